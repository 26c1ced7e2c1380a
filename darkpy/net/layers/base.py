"""What every torch layer shares: the registry (one torch class per layer spec), the spec a layer
is built from, and reading/writing its parameters in Darknet's `.weights` order."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, ClassVar

import torch
from torch import nn

from darkpy.net.spec import LayerSpec, Shape

if TYPE_CHECKING:
    from darkpy.net.weights import WeightsReader, WeightsWriter

REGISTRY: dict[type[LayerSpec], type["Layer"]] = {}

# a layout name (darkpy.net.spec.LayerSpec.weight_layout) -> the tensor attribute holding it
TENSORS = {"biases": "bias", "scales": "scales", "rolling mean": "rolling_mean",
           "rolling variance": "rolling_variance", "weights": "weight"}


def register(*specs: type[LayerSpec]) -> Callable[[type["Layer"]], type["Layer"]]:
    """Class decorator: the torch layer that runs these layer specs."""

    def deco(cls: type["Layer"]) -> type["Layer"]:
        for s in specs:
            if s in REGISTRY:
                raise RuntimeError(f"{s.__name__} registered twice")
            REGISTRY[s] = cls
        return cls

    return deco


class Layer(nn.Module):
    """A Darknet layer in torch: built from its `LayerSpec` (which every option, shape and weight
    count is read from: `layer.filters`, `layer.in_shape` ... are the spec's), runs forward in
    Darknet's layout, and reads and writes its own parameters in Darknet's `.weights` order."""

    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.spec = spec

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            spec = self.__dict__.get("spec")
            if spec is None:
                raise
            return getattr(spec, name)

    # shapes live in the spec, so that resizing the network's spec resizes its layers
    @property
    def in_shape(self) -> Shape:
        return self.spec.in_shape

    @in_shape.setter
    def in_shape(self, value: Shape) -> None:
        self.spec.in_shape = tuple(value)

    @property
    def out_shape(self) -> Shape:
        return self.spec.out_shape

    @out_shape.setter
    def out_shape(self, value: Shape) -> None:
        self.spec.out_shape = tuple(value)

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def line(self) -> int:
        return self.spec.line

    @property
    def section_name(self) -> str:
        return self.spec.section_name

    @property
    def has_weights(self) -> bool:
        return self.spec.has_weights

    @property
    def sources(self) -> tuple[int, ...]:
        """Earlier layers whose outputs this layer reads besides its input."""
        return self.spec.sources

    def num_weight_floats(self) -> int:
        return self.spec.num_weight_floats()

    @property
    def bflops(self) -> float:
        return self.spec.bflops

    def describe(self) -> dict:
        return self.spec.describe()

    # -- running ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, outputs: list[torch.Tensor | None]) -> torch.Tensor:  # noqa: D401
        raise NotImplementedError

    # -- weights: the spec's layout, in order -------------------------------------------
    def load_darknet(self, reader: "WeightsReader") -> None:
        for name, _ in self.spec.weight_layout():
            reader.read_into(getattr(self, TENSORS[name]), self, name)

    def save_darknet(self, writer: "WeightsWriter") -> None:
        for name, _ in self.spec.weight_layout():
            writer.write(getattr(self, TENSORS[name]))

    def init_weights(self, generator: torch.Generator | None = None) -> None:
        pass

    def extra_repr(self) -> str:
        return f"index={self.index}, in={self.in_shape}, out={self.out_shape}"


def build_layer(spec: LayerSpec) -> Layer:
    cls = REGISTRY.get(type(spec))
    if cls is None:  # pragma: no cover - every spec has a torch layer
        raise TypeError(f"no torch layer for {type(spec).__name__}")
    return cls(spec)
