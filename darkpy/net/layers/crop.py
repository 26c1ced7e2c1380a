"""[crop]: a fixed-size crop of the input, random (with flips) while training, centred at test
time, and mapped from [0, 1] to [-1, 1] unless `noadjust=1` (Darknet's behaviour)."""
from __future__ import annotations

import torch

from darkpy.net.cfg import Section
from darkpy.net.layers.base import BuildContext, Layer, register, require_image_input


@register("crop")
class Crop(Layer):
    type_name = "crop"

    def __init__(self, index, section, in_shape, *, crop_height: int, crop_width: int, flip: bool,
                 noadjust: bool, options: dict):
        c = in_shape[0]
        super().__init__(index, section, in_shape, (c, crop_height, crop_width))
        self.crop_height, self.crop_width, self.flip, self.noadjust = crop_height, crop_width, flip, noadjust
        self.set_options(options)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Crop":
        c, h, w = require_image_input(s, ctx)
        ch = s.int("crop_height", 1)
        cw = s.int("crop_width", 1)
        flip = s.bool("flip", False)
        noadjust = s.bool("noadjust", False)
        options = {"angle": s.float("angle", 0.0), "saturation": s.float("saturation", 1.0),
                   "exposure": s.float("exposure", 1.0), "shift": s.float("shift", 0.0)}
        s.check_all_used()
        if not (0 < ch <= h and 0 < cw <= w):
            raise s.error(f"crop {cw}x{ch} does not fit the {w}x{h} input")
        return cls(ctx.index, s, (c, h, w), crop_height=ch, crop_width=cw, flip=flip, noadjust=noadjust,
                   options=options)

    def resized(self, in_shape, shapes):
        return (in_shape[0], self.crop_height, self.crop_width)

    def forward(self, x, outputs=None):
        h, w = x.shape[2], x.shape[3]
        if self.training:
            dh = int(torch.randint(0, h - self.crop_height + 1, (1,)))
            dw = int(torch.randint(0, w - self.crop_width + 1, (1,)))
            flip = self.flip and bool(torch.randint(0, 2, (1,)))
        else:
            dh, dw, flip = (h - self.crop_height) // 2, (w - self.crop_width) // 2, False
        y = x[:, :, dh:dh + self.crop_height, dw:dw + self.crop_width]
        if flip:
            y = torch.flip(y, dims=[3])
        return y if self.noadjust else y * 2 - 1

    def describe(self) -> dict:
        return {"type": "crop", "filters": "", "size": f"{self.crop_width} x {self.crop_height}", "extra": ""}
