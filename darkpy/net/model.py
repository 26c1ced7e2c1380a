"""A Darknet network as an `nn.Module`: built from a `.cfg`, filled from a `.weights` file.

Layers keep Darknet's layout at their boundaries, so any layer's output can be compared with
what Darknet computes (`forward_all`). The network runs at any input size its layers allow
(multiples of 32 for YOLOv2); the weights do not depend on the size.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from darkpy.device import select_device
from darkpy.errors import CfgError
from darkpy.net.cfg import Section
from darkpy.net.layers import Layer, build_layer
from darkpy.net.netconfig import NetConfig
from darkpy.net.spec import NetworkSpec, available_memory, build_spec, read_spec
from darkpy.net.weights import LoadReport, WeightsHeader, load_weights, save_weights


class Network(nn.Module):
    def __init__(self, net: NetConfig, layers: Sequence[Layer], cfg_path: Path | None = None):
        super().__init__()
        self.spec = NetworkSpec(net, [layer.spec for layer in layers], cfg_path)
        self.net = net
        self.blocks = nn.ModuleList(layers)
        self.cfg_path = cfg_path
        self.header = WeightsHeader()
        self.last_load: LoadReport | None = None
        needed = set()
        for layer in layers:
            needed.update(layer.sources)
        self._keep = frozenset(needed)
        self.output_index = self.spec.output_index

    # -- description ---------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The typed layers in cfg order (index, section, shapes, and each family's options)."""
        return list(self.blocks)

    @property
    def seen(self) -> int:
        """Images trained on so far (stored in the weights header; drives Darknet's schedules)."""
        return self.header.seen

    @seen.setter
    def seen(self, value: int) -> None:
        self.header.seen = int(value)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.net.channels, self.net.height, self.net.width)

    @property
    def detection_layers(self) -> list[Layer]:
        return [l for l in self.blocks if l.section_name in ("region", "yolo")]

    @property
    def output_layer(self) -> Layer:
        return self.blocks[self.output_index]

    def resize(self, width: int, height: int | None = None) -> "Network":
        """Recompute every layer's shapes for a new input size (the weights do not change)."""
        self.spec.resize(width, height)
        return self

    # -- running -------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The output of the last non-cost layer, in Darknet's layout."""
        outputs: list[torch.Tensor | None] = [None] * len(self.blocks)
        for i, layer in enumerate(self.blocks[: self.output_index + 1]):
            x = layer(x, outputs)
            if i in self._keep:
                outputs[i] = x
        return x

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output (for debugging and parity tests)."""
        outputs: list[torch.Tensor | None] = [None] * len(self.blocks)
        for i, layer in enumerate(self.blocks):
            x = layer(x, outputs)
            outputs[i] = x
        return outputs  # type: ignore[return-value]

    def forward_with_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Output plus the raw *input* of every detection layer (what training losses need)."""
        outputs: list[torch.Tensor | None] = [None] * len(self.blocks)
        det_inputs: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.blocks[: self.output_index + 1]):
            if layer.section_name in ("region", "yolo"):
                det_inputs[i] = x
            x = layer(x, outputs)
            if i in self._keep:
                outputs[i] = x
        return x, det_inputs

    # -- weights -------------------------------------------------------------------------
    def load_weights(self, path: str | Path, upto: int | None = None, *, allow_partial: bool = False) -> LoadReport:
        """Fill from a Darknet weights file; one that stops before the last layer is an error
        unless `allow_partial` (training from a `.conv.23`-style file)."""
        report = load_weights(self.blocks, path, upto, allow_partial=allow_partial)
        self.header = WeightsHeader(report.header.major, report.header.minor, report.header.revision,
                                    report.header.seen)
        self.last_load = report
        return report

    def save_weights(self, path: str | Path, upto: int | None = None) -> Path:
        """Darknet `.weights` (the header read from the loaded file, or 0.2.0), written atomically."""
        return save_weights(self.blocks, path, self.header, upto)

    def init_weights(self, seed: int | None = 0, start: int = 0) -> None:
        """Darknet-style random values for layers from index `start` on (all by default)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        for layer in self.blocks:
            if layer.index >= start:
                layer.init_weights(gen)

    def num_weight_floats(self) -> int:
        return self.spec.num_weight_floats()


def network_from_spec(spec: NetworkSpec) -> Network:
    """The torch network for a spec (which it then shares: resizing one resizes the other)."""
    layers = []
    for layer_spec in spec.layers:
        try:
            layers.append(build_layer(layer_spec))
        except (RuntimeError, OverflowError, MemoryError) as exc:  # sizes beyond what tensors can hold
            raise CfgError(f"layer {layer_spec.index} [{layer_spec.section_name}]: its tensors cannot be allocated: "
                           f"{str(exc).splitlines()[0][:120]}", file=spec.cfg_path, line=layer_spec.line) from None
    return Network(spec.net, layers, spec.cfg_path)


def build_network(sections: list[Section], cfg_path: Path | None = None,
                  size: int | tuple[int, int] | None = None, batch: int | None = None) -> Network:
    return network_from_spec(build_spec(sections, cfg_path, size, batch))


def parse_network(cfg: str | Path | NetworkSpec, size: int | tuple[int, int] | None = None) -> Network:
    """Build from a cfg path (or cfg text, if it contains a newline, or a spec already read)
    without loading weights."""
    if isinstance(cfg, NetworkSpec):
        if size is not None:
            cfg.resize(*((size, size) if isinstance(size, int) else size))
        return network_from_spec(cfg)
    return network_from_spec(read_spec(cfg, size))


def check_batch_fits(net: "Network", images: int, memory: int | None = None) -> None:
    """Refuse a mini-batch whose inputs and activations cannot fit (float32), before the loader
    tries: `batch=100000000` must be one line naming the cfg, not numpy asking for 10 TiB.
    `check_fits` covers the parameters and one image; this multiplies by the images per pass."""
    memory = available_memory() if memory is None else memory
    per_image = math.prod(net.input_shape) + sum(math.prod(l.out_shape) for l in net.layers)
    need = 4 * per_image * int(images)
    if need > memory:
        line = net.net.batch_line or net.net.line or None
        raise CfgError(f"[net]: a mini-batch of {images:,} images (batch / subdivisions) needs {need / 1e9:,.1f} GB "
                       f"for its inputs and activations (float32), more than the {memory / 1e9:,.1f} GB this "
                       f"machine has available: lower batch= or raise subdivisions=", file=net.cfg_path, line=line)


def load_network(cfg: str | Path | NetworkSpec, weights: str | Path | None = None, size: int | tuple[int, int] | None = None,
                 device: str | torch.device | None = None, seed: int | None = 0, upto: int | None = None,
                 allow_partial: bool = False) -> Network:
    """Build a Darknet network from its cfg (or its spec), fill it from a `.weights` file (or Darknet-style
    random weights when none is given), move it to `device` (CUDA when present) and put it in
    eval mode. `size` overrides the cfg's input width/height (an int or (width, height)).
    `allow_partial`: accept weights that cover only the first layers (training); otherwise such
    a file is a `WeightsError`."""
    model = parse_network(cfg, size)
    if weights is not None:
        report = model.load_weights(weights, upto, allow_partial=allow_partial)
        if report.partial:  # layers a partial file does not cover still get sane values
            model.init_weights(seed, start=report.last_layer_index + 1)
    else:
        model.init_weights(seed)
    model.to(select_device(device))
    model.eval()
    return model
