"""[reorg]: YOLOv2's passthrough rearrangement.

Darknet's reorg is a fixed permutation of the flat (c, h, w) buffer that does NOT equal
PyTorch's pixel_unshuffle: it reads the input as if it were (c/s², h·s, w·s) and writes it out as
(c, h, w) with the s×s phase as the slowest channel index, then labels the result
(c·s², h/s, w/s). We reproduce exactly that permutation with views, so trained YOLOv2 weights
see the channel order they were trained with.
"""
from __future__ import annotations

import torch

from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import ReorgSpec


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


@register(ReorgSpec)
class Reorg(Layer):
    def forward(self, x, outputs=None):
        if self.reverse:
            return darknet_reorg_reverse(x, self.stride)
        return darknet_reorg(x, self.stride)
