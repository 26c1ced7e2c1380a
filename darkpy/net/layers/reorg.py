"""[reorg]: YOLOv2's passthrough rearrangement.

Darknet's reorg is a fixed permutation of the flat (c, h, w) buffer that does NOT equal
PyTorch's pixel_unshuffle: it reads the input as if it were (c/s², h·s, w·s) and writes it out as
(c, h, w) with the s×s phase as the slowest channel index, then labels the result
(c·s², h/s, w/s). We reproduce exactly that permutation with views, so trained YOLOv2 weights
see the channel order they were trained with.
"""
from __future__ import annotations

import torch

from darkpy.net.cfg import Section
from darkpy.net.layers.base import BuildContext, Layer, register, require_image_input


def darknet_reorg(x: torch.Tensor, stride: int) -> torch.Tensor:
    b, c, h, w = x.shape
    s = stride
    oc = c // (s * s)
    y = x.reshape(b, oc, h, s, w, s).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(b, c * s * s, h // s, w // s)


def darknet_reorg_reverse(x: torch.Tensor, stride: int) -> torch.Tensor:
    """The inverse permutation (Darknet's `reverse=1`)."""
    b, c, h, w = x.shape
    s = stride
    c_in, h_in, w_in = c // (s * s), h * s, w * s  # shape the forward pass started from
    oc = c_in // (s * s)
    y = x.reshape(b, s, s, oc, h_in, w_in).permute(0, 3, 4, 1, 5, 2)
    return y.reshape(b, c_in, h_in, w_in)


@register("reorg")
class Reorg(Layer):
    type_name = "reorg"

    def __init__(self, index, section, in_shape, *, stride: int, reverse: bool):
        self.stride, self.reverse = stride, reverse
        super().__init__(index, section, in_shape, self._out(in_shape))

    def _out(self, in_shape):
        c, h, w = in_shape
        s = self.stride
        if self.reverse:
            return (c // (s * s), h * s, w * s)
        return (c * s * s, h // s, w // s)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Reorg":
        c, h, w = require_image_input(s, ctx)
        stride = s.int("stride", 1)
        reverse = s.bool("reverse", False)
        for key in ("flatten", "extra"):
            if s.int(key, 0):
                raise s.error(f"'{key}' is not supported by darkpy", key)
        s.check_all_used()
        if stride < 1:
            raise s.error("'stride' must be positive", "stride")
        need = stride * stride * (stride * stride if reverse else 1)
        if c % need or (not reverse and (h % stride or w % stride)):
            raise s.error(f"stride {stride} needs channels divisible by {need} and a size divisible by "
                          f"{stride}; input is {w}x{h}x{c}", "stride")
        return cls(ctx.index, s, (c, h, w), stride=stride, reverse=reverse)

    def resized(self, in_shape, shapes):
        return self._out(in_shape)

    def forward(self, x, outputs=None):
        if self.reverse:
            return darknet_reorg_reverse(x, self.stride)
        return darknet_reorg(x, self.stride)

    def describe(self) -> dict:
        return {"type": "reorg", "filters": "", "size": f"/ {self.stride}", "extra": ""}
