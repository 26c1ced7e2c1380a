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
        y = F.max_pool2d(x, self.size, self.stride)
        return y[:, :, :oh, :ow]


@register(AvgPoolSpec)
class AvgPool(Layer):
    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)
