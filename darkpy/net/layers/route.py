"""[route], [shortcut] and [upsample]: layers that wire or resample feature maps."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from darkpy.net.cfg import Section
from darkpy.net.layers.activations import ACTIVATIONS
from darkpy.net.layers.base import BuildContext, Layer, register, require_image_input


@register("route")
class Route(Layer):
    """Concatenates the outputs of earlier layers along channels (negative indices count back)."""

    type_name = "route"

    def __init__(self, index, section, in_shape, out_shape, layers: list[int]):
        super().__init__(index, section, in_shape, out_shape)
        self.layers = layers

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Route":
        if not s.has("layers"):
            raise s.error("missing 'layers'")
        refs = [ctx.layer_ref(s, "layers", v) for v in s.ints("layers")]
        s.check_all_used()
        if not refs:
            raise s.error("'layers' is empty", "layers")
        shapes = [ctx.previous[i].out_shape for i in refs]
        out = cls._concat(shapes)
        if out is None:
            sizes = ", ".join(f"layer {i}: {sh[2]}x{sh[1]}" for i, sh in zip(refs, shapes))
            raise s.error(f"routed layers have different sizes ({sizes})", "layers")
        return cls(ctx.index, s, ctx.in_shape, out, refs)

    @staticmethod
    def _concat(shapes):
        h, w = shapes[0][1], shapes[0][2]
        if any(sh[1] != h or sh[2] != w for sh in shapes):
            return None
        return (sum(sh[0] for sh in shapes), h, w)

    def resized(self, in_shape, shapes):
        return self._concat([shapes[i] for i in self.layers])

    @property
    def sources(self):
        return tuple(self.layers)

    def forward(self, x, outputs):
        if len(self.layers) == 1:
            return outputs[self.layers[0]]
        return torch.cat([outputs[i] for i in self.layers], dim=1)

    def describe(self) -> dict:
        return {"type": "route", "filters": "", "size": "", "extra": " ".join(map(str, self.layers))}


@register("shortcut")
class Shortcut(Layer):
    """Adds an earlier layer's output (`from`) to the input, as Darknet does even when the two
    differ in size: sampled with integer strides over the overlapping channels."""

    type_name = "res"

    def __init__(self, index, section, in_shape, *, source: int, source_shape, activation: str,
                 alpha: float, beta: float):
        super().__init__(index, section, in_shape, in_shape)
        self.source, self.source_shape = source, tuple(source_shape)
        self.activation_name, self.alpha, self.beta = activation, alpha, beta
        self.activation = ACTIVATIONS[activation]

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Shortcut":
        shape = require_image_input(s, ctx)
        if not s.has("from"):
            raise s.error("missing 'from'")
        src = ctx.layer_ref(s, "from", s.int("from"))
        act = (s.str("activation", "linear") or "").lower()
        alpha = s.float("alpha", 1.0)
        beta = s.float("beta", 1.0)
        s.check_all_used()
        if act not in ACTIVATIONS:
            raise s.error(f"unknown activation '{act}'", "activation")
        return cls(ctx.index, s, shape, source=src, source_shape=ctx.previous[src].out_shape,
                   activation=act, alpha=alpha, beta=beta)

    @property
    def sources(self):
        return (self.source,)

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

    def describe(self) -> dict:
        return {"type": "res", "filters": "", "size": "", "extra": f"{self.source}"}


@register("upsample")
class Upsample(Layer):
    """Nearest-neighbour upsampling by `stride` (times `scale`); a negative stride sums blocks
    down instead, as Darknet's reverse mode."""

    type_name = "upsample"

    def __init__(self, index, section, in_shape, *, stride: int, scale: float):
        self.stride, self.scale = stride, scale
        super().__init__(index, section, in_shape, self._out(in_shape))

    def _out(self, in_shape):
        c, h, w = in_shape
        if self.stride < 0:
            return (c, h // -self.stride, w // -self.stride)
        return (c, h * self.stride, w * self.stride)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Upsample":
        shape = require_image_input(s, ctx)
        stride = s.int("stride", 2)
        scale = s.float("scale", 1.0)
        s.check_all_used()
        if stride == 0:
            raise s.error("'stride' must not be 0", "stride")
        return cls(ctx.index, s, shape, stride=stride, scale=scale)

    def resized(self, in_shape, shapes):
        return self._out(in_shape)

    def forward(self, x, outputs=None):
        if self.stride > 0:
            y = F.interpolate(x, scale_factor=self.stride, mode="nearest")
        else:
            k = -self.stride
            y = F.avg_pool2d(x, k, k) * (k * k)
        return y * self.scale if self.scale != 1 else y

    def describe(self) -> dict:
        return {"type": "upsample", "filters": "", "size": f"{abs(self.stride)}x", "extra": ""}
