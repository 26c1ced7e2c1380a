"""[maxpool] and [avgpool]."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from darkpy.net.cfg import Section
from darkpy.net.layers.base import BuildContext, Layer, register, require_image_input


@register("maxpool")
class MaxPool(Layer):
    """Darknet's max pooling: `padding` defaults to size-1 and is split with the smaller half on
    the top/left, so `size=2 stride=1` (tiny-yolo) keeps the spatial size."""

    type_name = "max"

    def __init__(self, index, section, in_shape, *, size: int, stride: int, padding: int):
        self.size, self.stride, self.padding = size, stride, padding
        super().__init__(index, section, in_shape, self._out(in_shape))

    def _out(self, in_shape):
        c, h, w = in_shape
        return (c, (h + self.padding - self.size) // self.stride + 1, (w + self.padding - self.size) // self.stride + 1)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "MaxPool":
        shape = require_image_input(s, ctx)
        stride = s.int("stride", 1)
        size = s.int("size", stride)
        padding = s.int("padding", size - 1)
        s.check_all_used()
        if size < 1 or stride < 1 or padding < 0:
            raise s.error("'size' and 'stride' must be positive and 'padding' not negative")
        layer = cls(ctx.index, s, shape, size=size, stride=stride, padding=padding)
        if min(layer.out_shape[1:]) < 1:
            raise s.error(f"pooling {size}/{stride} does not fit the {shape[2]}x{shape[1]} input")
        return layer

    def resized(self, in_shape, shapes):
        return self._out(in_shape)

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        _, oh, ow = self._out((x.shape[1], x.shape[2], x.shape[3]))
        lead = self.padding // 2
        pad_h = max(0, (oh - 1) * self.stride + self.size - x.shape[2] - lead)
        pad_w = max(0, (ow - 1) * self.stride + self.size - x.shape[3] - lead)
        if lead or pad_h or pad_w:
            x = F.pad(x, (lead, pad_w, lead, pad_h), value=float("-inf"))
        y = F.max_pool2d(x, self.size, self.stride)
        return y[:, :, :oh, :ow]

    def describe(self) -> dict:
        return {"type": "max", "filters": "", "size": f"{self.size} x {self.size} / {self.stride}", "extra": ""}


@register("avgpool")
class AvgPool(Layer):
    """Global average pooling: every channel becomes one value."""

    type_name = "avg"

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "AvgPool":
        c, h, w = require_image_input(s, ctx)
        s.check_all_used()
        return cls(ctx.index, s, (c, h, w), (c, 1, 1))

    def resized(self, in_shape, shapes):
        return (in_shape[0], 1, 1)

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)
