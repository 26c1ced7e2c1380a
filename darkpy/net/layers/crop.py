"""[crop]: a fixed-size crop of the input, random (with flips) while training, centred at test
time, and mapped from [0, 1] to [-1, 1] unless `noadjust=1` (Darknet's behaviour)."""
from __future__ import annotations

import torch

from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import CropSpec


@register(CropSpec)
class Crop(Layer):
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
