"""Fast inference: batch norm folded into the convolutions, inference mode, channels_last, fp16 on CUDA.

`fuse(net)` returns a copy of the network where every batch-normalised `[convolutional]` layer is
one convolution with a bias: Darknet's test-time batch norm is an affine map per channel,

    y = scale · (conv(x) - mean) / (sqrt(var) + 1e-6) + bias
      = conv_{w·k}(x) + (bias - mean·k),   k = scale / (sqrt(var) + 1e-6),

so folding it changes the result only by float rounding (tests check ≤ 1e-4). `Predictor`
wraps a (fused) network for batched inference and returns the outputs of its detection layers.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from darkpy.device import select_device
from darkpy.errors import UsageError
from darkpy.net.layers.conv import BN_EPS, Convolutional


class FusedConv(nn.Module):
    """A `[convolutional]` layer with its batch norm folded in (inference only)."""

    def __init__(self, layer: Convolutional):
        super().__init__()
        for key in ("index", "line", "section_name", "in_shape", "out_shape", "filters", "size", "stride",
                    "padding", "groups", "activation_name", "batch_normalize"):
            setattr(self, key, getattr(layer, key))
        self._sources = tuple(layer.sources)
        self.activation = layer.activation
        with torch.no_grad():
            w = layer.weight.detach().double()
            b = layer.bias.detach().double()
            if layer.batch_normalize:
                std = layer.rolling_variance.detach().double().sqrt()
                k = layer.scales.detach().double() / (std + BN_EPS)
                w = w * k.view(-1, 1, 1, 1)
                b = b - layer.rolling_mean.detach().double() * k
        dtype = layer.weight.dtype
        self.weight = nn.Parameter(w.to(dtype), requires_grad=False)
        self.bias = nn.Parameter(b.to(dtype), requires_grad=False)
        self.leaky = layer.activation_name == "leaky"

    @property
    def sources(self) -> tuple[int, ...]:
        return self._sources

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        if self.leaky:
            return F.leaky_relu(y, 0.1, inplace=True)
        return self.activation(y)

    def resized(self, in_shape, shapes):
        c, h, w = in_shape
        return (self.filters, (h + 2 * self.padding - self.size) // self.stride + 1,
                (w + 2 * self.padding - self.size) // self.stride + 1)


def fuse(net) -> "torch.nn.Module":
    """A copy of `net` (a darkpy Network) with batch norm folded into every convolution, in eval
    mode. The original is left untouched (train it, save its weights as usual)."""
    fused = copy.deepcopy(net)
    for i, layer in enumerate(fused.blocks):
        if isinstance(layer, Convolutional):
            fused.blocks[i] = FusedConv(layer).to(layer.weight.device)
    fused.eval()
    fused.requires_grad_(False)
    return fused


def forward_detections(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Run `net` and return the outputs of its detection layers (region / yolo), in order.
    Without detection layers, returns the network's output alone."""
    blocks = net.blocks
    wanted = {l.index for l in net.detection_layers}
    if not wanted:
        return [net(x)]
    last = max(wanted)
    outputs: list[torch.Tensor | None] = [None] * len(blocks)
    found = []
    for i, layer in enumerate(blocks[: last + 1]):
        x = layer(x, outputs)
        if i in net._keep:
            outputs[i] = x
        if i in wanted:
            found.append(x)
    return found


class Predictor:
    """A network ready for fast batched inference.

    - `fuse`: fold batch norm into the convolutions (default on);
    - `half`: fp16 weights and inputs (default: on for CUDA, off on CPU);
    - `channels_last`: NHWC memory layout (default: on for CUDA and CPU alike).
    Calling it on a (B, C, H, W) float tensor in [0, 1] returns the detection layers' outputs as
    float32 tensors on the same device."""

    def __init__(self, net, device=None, fuse_bn: bool = True, half: bool | None = None,
                 channels_last: bool | None = None, precision: str | None = None):
        self.device = select_device(device) if device is not None else next(
            (p.device for p in net.parameters()), torch.device("cpu"))
        if precision is not None and half is None:  # "auto" keeps the default below
            if precision not in ("auto", "fp32", "fp16"):
                raise UsageError(f"precision {precision!r} is not supported (use fp32, fp16 or auto)")
            half = {"fp32": False, "fp16": True}.get(precision)
        model = fuse(net) if fuse_bn else copy.deepcopy(net).eval()
        self.half = (self.device.type == "cuda") if half is None else bool(half)
        self.channels_last = True if channels_last is None else bool(channels_last)
        model = model.to(self.device)
        if self.half:
            model = model.half()
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.net = net

    @property
    def detection_layers(self):
        """The detection layers for decoding (the float32 originals: anchors never pass through fp16)."""
        return self.net.detection_layers

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode():
            x = x.to(self.device, non_blocking=True)
            x = x.half() if self.half else x.float()
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return [o.float().contiguous() for o in forward_detections(self.model, x)]
