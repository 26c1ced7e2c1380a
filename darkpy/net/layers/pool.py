"""[maxpool] and [avgpool]."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import AvgPoolSpec, MaxPoolSpec


@register(MaxPoolSpec)
class MaxPool(Layer):
    """Darknet's max pooling (padding split with the smaller half on the top/left)."""

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        _, oh, ow = MaxPoolSpec.pooled((x.shape[1], x.shape[2], x.shape[3]), self.size, self.stride, self.padding)
        lead = self.padding // 2
        pad_h = max(0, (oh - 1) * self.stride + self.size - x.shape[2] - lead)
        pad_w = max(0, (ow - 1) * self.stride + self.size - x.shape[3] - lead)
        if lead or pad_h or pad_w:
            x = F.pad(x, (lead, pad_w, lead, pad_h), value=float("-inf"))
        if (x.requires_grad and torch.is_grad_enabled()) or torch.jit.is_tracing():
            # training: the gradient goes to one max, as Darknet's; a traced graph (ONNX export,
            # --compile) keeps the pooling operator its backends know
            return F.max_pool2d(x, self.size, self.stride)[:, :, :oh, :ow]
        return _window_max(x, self.size, self.stride, oh, ow)


def _window_max(x: torch.Tensor, size: int, stride: int, oh: int, ow: int) -> torch.Tensor:
    """Max pooling for inference, as size*size element-wise maxima of strided views into one
    output: the same values as `F.max_pool2d` (NaN wins in both), which on the CPU also fills
    an int64 index tensor as large as its output, 4x a bf16 output (44 MB for yolov2's first
    pool at batch 4), only to throw it away."""
    out = None
    for i in range(size):
        for j in range(size):
            view = x[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
            if out is None:
                out = torch.empty_like(view)  # keeps the input's layout (channels_last stays so)
                out.copy_(view)
            else:
                torch.maximum(out, view, out=out)
    return out


@register(AvgPoolSpec)
class AvgPool(Layer):
    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)
