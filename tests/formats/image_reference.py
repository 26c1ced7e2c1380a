"""Darknet's image loops written out pixel by pixel: the oracle for darkpy.formats.image."""
from __future__ import annotations

import numpy as np

from darkpy.formats.image import _scale


def resize_image_reference(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Slow per-pixel transcription of Darknet's `resize_image` loops."""
    c, ih, iw = im.shape
    f = np.float32
    part = np.zeros((c, ih, w), np.float32)
    resized = np.zeros((c, h, w), np.float32)
    w_scale, h_scale = _scale(iw, w), _scale(ih, h)
    for k in range(c):
        for r in range(ih):
            for col in range(w):
                if col == w - 1 or iw == 1:
                    val = im[k, r, iw - 1]
                else:
                    sx = f(col) * w_scale
                    ix = int(sx)
                    dx = f(sx - f(ix))
                    val = f(f(f(1) - dx) * im[k, r, ix]) + f(dx * im[k, r, min(ix + 1, iw - 1)])
                part[k, r, col] = val
    for k in range(c):
        for r in range(h):
            sy = f(r) * h_scale
            iy = min(int(sy), ih - 1)
            dy = f(sy - f(iy))
            for col in range(w):
                resized[k, r, col] = f(f(1) - dy) * part[k, iy, col]
            if r == h - 1 or ih == 1:
                continue
            for col in range(w):
                resized[k, r, col] += f(dy * part[k, min(iy + 1, ih - 1), col])
    return resized
