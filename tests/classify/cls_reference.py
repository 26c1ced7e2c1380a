"""Straight transcriptions of Darknet's loops, used only as references by the tests."""
from __future__ import annotations

import math

import numpy as np


def rgb_to_hsv(im):
    r, g, b = im[..., 0].astype(np.float64), im[..., 1].astype(np.float64), im[..., 2].astype(np.float64)
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    delta = mx - mn
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(mx == 0, 0.0, delta / np.where(mx == 0, 1, mx))
        h = np.where(r == mx, (g - b) / delta, np.where(g == mx, 2 + (b - r) / delta, 4 + (r - g) / delta))
    h = np.where(h < 0, h + 6, h) / 6.0
    h = np.where(mx == 0, 0.0, h)
    return np.stack([h, s, mx], -1)


def hsv_to_rgb(hsv):
    out = np.empty_like(hsv)
    for idx in np.ndindex(hsv.shape[:-1]):
        h, s, v = hsv[idx]
        h = 6 * h
        if s == 0:
            r = g = b = v
        else:
            i = math.floor(h)
            f = h - i
            p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
            r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v)][i] if i < 5 else (v, p, q)
        out[idx] = (r, g, b)
    return out


def distort_image(im, hue, sat, val):
    hsv = rgb_to_hsv(im)
    hsv[..., 1] *= sat
    hsv[..., 2] *= val
    h = hsv[..., 0] + hue
    h = np.where(h > 1, h - 1, h)
    h = np.where(h < 0, h + 1, h)
    hsv[..., 0] = h
    return np.clip(hsv_to_rgb(hsv), 0, 1)


def bilinear(im, x, y):
    """Darknet's bilinear_interpolate with get_pixel_extend (zeros outside), (H, W, C) image."""
    h, w = im.shape[:2]

    def px(ix, iy):
        if ix < 0 or ix >= w or iy < 0 or iy >= h:
            return np.zeros(im.shape[2])
        return im[iy, ix]

    ix, iy = math.floor(x), math.floor(y)
    dx, dy = x - ix, y - iy
    return ((1 - dy) * (1 - dx) * px(ix, iy) + dy * (1 - dx) * px(ix, iy + 1)
            + (1 - dy) * dx * px(ix + 1, iy) + dy * dx * px(ix + 1, iy + 1))


def rotate_crop_image(im, rad, s, w, h, dx, dy, aspect):
    cx, cy = im.shape[1] / 2.0, im.shape[0] / 2.0
    out = np.zeros((h, w, im.shape[2]))
    for y in range(h):
        for x in range(w):
            u = (x - w / 2.0) / s * aspect + dx / s * aspect
            v = (y - h / 2.0) / s + dy / s
            rx = math.cos(rad) * u - math.sin(rad) * v + cx
            ry = math.sin(rad) * u + math.cos(rad) * v + cy
            out[y, x] = bilinear(im, rx, ry)
    return out


def top_k(a, k):
    """Darknet's top_k insertion loop (strictly greater moves an entry up)."""
    index = [-1] * k
    for i in range(len(a)):
        curr = i
        for j in range(k):
            if index[j] < 0 or a[curr] > a[index[j]]:
                curr, index[j] = index[j], curr
                if curr < 0:
                    break
    return index


def resize_image(im, w, h):
    """Darknet's resize_image loops on an (H, W, C) float32 image, float32 arithmetic."""
    f = np.float32
    ih, iw, c = im.shape
    part = np.zeros((ih, w, c), np.float32)
    resized = np.zeros((h, w, c), np.float32)
    w_scale = f(0) if w == 1 else f(iw - 1) / f(w - 1)
    h_scale = f(0) if h == 1 else f(ih - 1) / f(h - 1)
    for k in range(c):
        for r in range(ih):
            for col in range(w):
                if col == w - 1 or iw == 1:
                    val = im[r, iw - 1, k]
                else:
                    sx = f(col) * w_scale
                    ix = int(sx)
                    dx = f(sx - f(ix))
                    val = f(f(1) - dx) * im[r, ix, k] + f(dx * im[r, ix + 1, k])
                part[r, col, k] = val
    for k in range(c):
        for r in range(h):
            sy = f(r) * h_scale
            iy = int(sy)
            dy = f(sy - f(iy))
            for col in range(w):
                resized[r, col, k] = f(f(1) - dy) * part[iy, col, k]
            if r == h - 1 or ih == 1:
                continue
            for col in range(w):
                resized[r, col, k] += f(dy * part[iy + 1, col, k])
    return resized


def crop_image(im, dx, dy, w, h):
    ih, iw = im.shape[:2]
    out = np.zeros((h, w, im.shape[2]), np.float32)
    for j in range(h):
        for i in range(w):
            r = min(max(j + dy, 0), ih - 1)
            c = min(max(i + dx, 0), iw - 1)
            out[j, i] = im[r, c]
    return out
