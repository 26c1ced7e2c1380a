"""What every layer family shares: the registry, the build context, shapes, and the weights
reader/writer protocol."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

import torch
from torch import nn

from darkpy.net.cfg import Section
from darkpy.assets import bundled
from darkpy.errors import CfgError

if TYPE_CHECKING:
    from darkpy.net.weights import WeightsReader, WeightsWriter

REGISTRY: dict[str, type["Layer"]] = {}


def register(*names: str) -> Callable[[type["Layer"]], type["Layer"]]:
    """Class decorator: make a layer family buildable from `[name]` sections."""

    def deco(cls: type["Layer"]) -> type["Layer"]:
        for name in names:
            if name in REGISTRY:
                raise RuntimeError(f"section [{name}] registered twice")
            REGISTRY[name] = cls
        cls.section_names = names
        return cls

    return deco


Shape = tuple[int, int, int]  # (channels, height, width), Darknet's c/h/w


@dataclass
class BuildContext:
    """What a layer may look at while it is being built: the shape flowing into it and the
    shapes of the layers before it (for route/shortcut), plus where the cfg lives."""

    index: int
    in_shape: Shape
    previous: list["Layer"]
    cfg_path: Path | None
    net: object = None          # NetConfig
    base_dir: Path | None = None

    def layer_ref(self, section: Section, key: str, value: int) -> int:
        """Resolve a layer index as Darknet does: negative values count back from this layer."""
        idx = self.index + value if value < 0 else value
        if not 0 <= idx < self.index:
            raise section.error(
                f"'{key}' refers to layer {value} -> {idx}, which does not exist before layer {self.index}", key)
        return idx

    def resolve_path(self, name: str) -> Path:
        """Darknet opens `tree=`/`map=` files relative to the working directory; darkpy also
        looks beside the cfg and in the package's data folder so bundled cfgs work anywhere."""
        p = Path(name)
        if p.is_absolute() or p.exists():
            return p
        candidates = []
        if self.cfg_path is not None:
            candidates += [self.cfg_path.parent / p, self.cfg_path.parent.parent / p]
        for c in candidates:
            if c.exists():
                return c
        return bundled(p) or bundled(Path("data") / p.name) or p

    def option_file(self, section: Section, key: str, hint: str = "") -> tuple[str, Path] | None:
        """The file a `key=` option names (`tree=`, `map=`): the name as written and where
        `resolve_path` finds it, refused with one line when it is missing or not a file; None
        when the option is absent."""
        name = section.str(key)
        if name is None:
            return None
        path = self.resolve_path(name)
        if not path.exists():
            raise section.error(f"{key} file '{name}' not found{hint}", key)
        if not path.is_file():
            raise section.error(f"{key} file '{name}' is not a file", key)
        return name, path


class Layer(nn.Module):
    """A Darknet layer: built from its cfg section, runs forward in Darknet's layout, and reads
    and writes its own parameters in Darknet's `.weights` order."""

    section_names: ClassVar[tuple[str, ...]] = ()
    type_name: ClassVar[str] = ""        # Darknet's name in its layer table

    def __init__(self, index: int, section: Section | None, in_shape: Shape, out_shape: Shape):
        super().__init__()
        self.index = index
        self.line = section.line if section is not None else 0
        self.section_name = section.name if section is not None else self.section_names[0]
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)

    # -- construction -------------------------------------------------------------------
    def set_options(self, options: dict[str, object]) -> None:
        """Keep plain cfg settings (scales, thresholds, flags) as attributes named as in the
        cfg, as Darknet's layer struct holds them, for the loss and augmentation to read."""
        for key, value in options.items():
            setattr(self, key, value)

    @classmethod
    def from_cfg(cls, section: Section, ctx: BuildContext) -> "Layer":
        raise NotImplementedError

    def resized(self, in_shape: Shape, shapes: list[Shape]) -> Shape:
        """Output shape for a new network input size: `in_shape` is what now flows in, `shapes`
        the new output shapes of all earlier layers (for route and shortcut)."""
        return in_shape

    # -- running ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, outputs: list[torch.Tensor | None]) -> torch.Tensor:  # noqa: D401
        raise NotImplementedError

    @property
    def sources(self) -> tuple[int, ...]:
        """Earlier layers whose outputs this layer reads besides its input."""
        return ()

    # -- weights ------------------------------------------------------------------------
    has_weights: ClassVar[bool] = False

    def num_weight_floats(self) -> int:
        return 0

    def load_darknet(self, reader: "WeightsReader") -> None:
        pass

    def save_darknet(self, writer: "WeightsWriter") -> None:
        pass

    def init_weights(self, generator: torch.Generator | None = None) -> None:
        pass

    # -- reporting ----------------------------------------------------------------------
    @property
    def bflops(self) -> float:
        return 0.0

    def describe(self) -> dict:
        """A row of the summary table (Darknet's layer table columns)."""
        return {"type": self.type_name or self.section_name, "filters": "", "size": "", "extra": ""}

    def extra_repr(self) -> str:
        return f"index={self.index}, in={self.in_shape}, out={self.out_shape}"


def require_image_input(section: Section, ctx: BuildContext) -> Shape:
    c, h, w = ctx.in_shape
    if not (c and h and w):
        raise section.error(f"needs an image input (c x h x w), but layer {ctx.index - 1} outputs {ctx.in_shape}")
    return ctx.in_shape


def cfg_error(section: Section, message: str, key: str | None = None) -> CfgError:
    return section.error(message, key)


@dataclass
class ShapeTrace:
    shapes: list[Shape] = field(default_factory=list)
