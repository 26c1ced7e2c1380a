"""Darknet's classification augmentation (`load_image_augment_paths` in src/data.c with
`random_augment_image` / `random_distort_image` from src/image.c), per image:

1. a random crop: aspect `a = rand_scale(aspect)`; the shorter side (width taken times `a`)
   scaled to a random integer `r` in [min_crop, max_crop]; rotated by a uniform angle in
   [-angle, angle] degrees; shifted uniformly by up to half the slack on each axis; sampled
   bilinearly into size x size (zeros outside the image). With `center=1` in the cfg instead the
   centred square, resized.
2. a left-right flip with probability 1/2.
3. hue + U(-hue, hue) (wrapping), saturation x rand_scale(saturation), value x
   rand_scale(exposure); clamped to [0, 1].

`rand_scale(s)` is a uniform factor between 1 and s, inverted half of the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from darkpy.train.augment import distort, rand_scale  # shared with detection
from darkpy.classify import image as I


def rand_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    if hi < lo:
        lo, hi = hi, lo
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def rand_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    if hi < lo:
        lo, hi = hi, lo
    return int(rng.integers(lo, hi + 1))


@dataclass
class AugmentConfig:
    size_w: int
    size_h: int
    min_crop: int
    max_crop: int
    angle: float = 0.0
    aspect: float = 1.0
    hue: float = 0.0
    saturation: float = 1.0
    exposure: float = 1.0
    center: bool = False
    flip: bool = True

    @classmethod
    def from_net(cls, net, size: tuple[int, int] | None = None) -> "AugmentConfig":
        """From the cfg's [net]: `min_crop`/`max_crop` default to width / 2 x width, as Darknet's
        parser sets them (scaled with the width when training at another size)."""
        w, h = size if size is not None else (net.width, net.height)
        min_crop, max_crop = net.min_crop, net.max_crop
        if size is not None and net.width and w != net.width:
            min_crop = max(1, round(min_crop * w / net.width))
            max_crop = max(1, round(max_crop * w / net.width))
        return cls(w, h, min_crop, max_crop, net.angle, net.aspect, net.hue, net.saturation, net.exposure,
                   bool(net.center))


@dataclass
class AugmentArgs:
    rad: float
    scale: float
    dx: float
    dy: float
    aspect: float
    flip: bool
    hue: float
    sat: float
    val: float


def random_args(rng: np.random.Generator, im_w: int, im_h: int, cfg: AugmentConfig) -> AugmentArgs:
    """Darknet's `random_augment_args` (plus the flip and colour draws), for an im_w x im_h image."""
    aspect = rand_scale(rng, cfg.aspect)
    r = rand_int(rng, cfg.min_crop, cfg.max_crop)
    short = int(im_h if im_h < im_w * aspect else im_w * aspect)  # C truncates the float
    scale = r / max(1, short)
    rad = rand_uniform(rng, -cfg.angle, cfg.angle) * 2 * math.pi / 360.0
    # Darknet measures both slacks against the crop *width* (its crops are square)
    dx = (im_w * scale / aspect - cfg.size_w) / 2.0
    dy = (im_h * scale - cfg.size_w) / 2.0
    dx = rand_uniform(rng, -dx, dx)
    dy = rand_uniform(rng, -dy, dy)
    flip = bool(rng.integers(2)) if cfg.flip else False
    hue = rand_uniform(rng, -cfg.hue, cfg.hue)
    sat = rand_scale(rng, cfg.saturation)
    val = rand_scale(rng, cfg.exposure)
    return AugmentArgs(rad, scale, dx, dy, aspect, flip, hue, sat, val)


def augment(im: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """One training image, (H, W, 3) in, (size_h, size_w, 3) float32 out."""
    ih, iw = im.shape[:2]
    a = random_args(rng, iw, ih, cfg)
    if cfg.center:
        crop = I.center_crop_image(im, cfg.size_w, cfg.size_h)
    else:
        crop = I.rotate_crop_image(im, a.rad, a.scale, cfg.size_w, cfg.size_h, a.dx, a.dy, a.aspect)
    if a.flip:
        crop = I.flip_image(crop)
    return distort_image(crop, a.hue, a.sat, a.val)


def distort_image(im: np.ndarray, hue: float, sat: float, val: float) -> np.ndarray:
    """Darknet's `distort_image`: in HSV (hue in [0, 1)), add `hue` (wrapping), scale saturation
    by `sat` and value by `val`; back to RGB and clamp to [0, 1] (the detection augmentation's
    implementation, `darkpy.train.augment.distort`)."""
    return distort(np.ascontiguousarray(im, dtype=np.float32), hue, sat, val)
