"""[route], [shortcut] and [upsample]: layers that wire or resample feature maps."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from darkpy.net.layers.activations import ACTIVATIONS
from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import RouteSpec, ShortcutSpec, UpsampleSpec


@register(RouteSpec)
class Route(Layer):
    """Concatenates the outputs of earlier layers along channels."""

    def forward(self, x, outputs):
        if len(self.layers) == 1:
            return outputs[self.layers[0]]
        return torch.cat([outputs[i] for i in self.layers], dim=1)


@register(ShortcutSpec)
class Shortcut(Layer):
    """Adds an earlier layer's output (`from`) to the input, as Darknet does even when the two
    differ in size: sampled with integer strides over the overlapping channels."""

    def __init__(self, spec: ShortcutSpec):
        super().__init__(spec)
        self.activation = ACTIVATIONS[spec.activation_name]

    def forward(self, x, outputs):
        add = outputs[self.source]
        if add.shape == x.shape:
            y = self.alpha * x + self.beta * add if (self.alpha != 1 or self.beta != 1) else x + add
            return self.activation(y)
        w1, h1, c1 = add.shape[3], add.shape[2], add.shape[1]
        w2, h2, c2 = x.shape[3], x.shape[2], x.shape[1]
        stride, sample = max(1, w1 // w2), max(1, w2 // w1)
        minw, minh, minc = min(w1, w2), min(h1, h2), min(c1, c2)
        src = add[:, :minc, ::stride, ::stride][:, :, :minh, :minw]
        y = x.clone()
        region = y[:, :minc, ::sample, ::sample][:, :, :minh, :minw]
        y[:, :minc, ::sample, ::sample][:, :, :minh, :minw] = self.alpha * region + self.beta * src
        return self.activation(y)


@register(UpsampleSpec)
class Upsample(Layer):
    """Nearest-neighbour upsampling by `stride` (times `scale`); a negative stride sums blocks
    down instead, as Darknet's reverse mode."""

    def forward(self, x, outputs=None):
        if self.stride > 0:
            y = F.interpolate(x, scale_factor=self.stride, mode="nearest")
        else:
            k = -self.stride
            y = F.avg_pool2d(x, k, k) * (k * k)
        return y * self.scale if self.scale != 1 else y
