"""Image operations of Darknet's classifier, on (H, W, 3) RGB float32 arrays in [0, 1].

Darknet keeps images planar (C, H, W); the classifier code works row-major (H, W, C), which is
what OpenCV works on, and converts to the network's (C, H, W) layout once at the end
(`to_chw`). Values are the same as Darknet's:

- `load_rgb`: Darknet's `load_image_color(path, 0, 0)` (pixel / 255; decoded by OpenCV).
- `resize_hwc`, `letterbox_hwc`: Darknet's `resize_image` (its own bilinear resize: corner-aligned
  sample positions, horizontal pass first) and `letterbox_image`, from `darkpy.formats.image`
  (shared with detection, which works on (C, H, W)).
- `resize_min`, `crop_image` (out-of-range reads clamp to the edge), `center_crop_image`,
  `flip_image`.
- `rotate_crop_image`: the rotated, scaled, shifted, aspect-stretched crop behind Darknet's
  `random_augment_image`; bilinear with zeros outside the image (`get_pixel_extend`), done
  with one `cv2.warpAffine`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from darkpy.formats.image import read_rgb
from darkpy.formats.image import resize_image as resize_chw
from darkpy.formats.image import letterbox_image as letterbox_chw


def load_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) RGB float32 in [0, 1]; DataError naming the file when it cannot be read
    (`darkpy.formats.image.read_rgb`, the reader of every command)."""
    return read_rgb(path)


def to_chw(im: np.ndarray, channels: int = 3) -> np.ndarray:
    """(H, W, 3) -> (C, H, W); `channels=1` gives the grayscale image a `channels=1` classifier
    reads (stb_image's luma weights 77/150/29 over 256, on the 8-bit values, as Darknet's
    `load_image(path, 0, 0, 1)`). Augmentation runs on colour first, so hue/saturation keep their meaning."""
    if channels == 1 and im.shape[-1] == 3:
        q = np.rint(np.asarray(im, np.float32) * 255.0).astype(np.int32)
        gray = (q[..., 0] * 77 + q[..., 1] * 150 + q[..., 2] * 29) >> 8
        return np.ascontiguousarray((gray.astype(np.float32) / 255.0)[None])
    return np.ascontiguousarray(im.transpose(2, 0, 1))


def resize_hwc(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `resize_image` for an (H, W, C) float32 image (`darkpy.formats.image.resize_image`,
    which works on (C, H, W))."""
    ih, iw = im.shape[:2]
    if (iw, ih) == (w, h):
        return im.copy()
    out = resize_chw(np.asarray(im, np.float32).transpose(2, 0, 1), w, h)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def resize_min_size(w: int, h: int, size: int) -> tuple[int, int]:
    """Darknet's `resize_min` arithmetic: the shorter side becomes `size` (integer division)."""
    if w < h:
        return size, (h * size) // w
    return (w * size) // h, size


def resize_min(im: np.ndarray, size: int) -> np.ndarray:
    h, w = im.shape[:2]
    nw, nh = resize_min_size(w, h, size)
    if (nw, nh) == (w, h):
        return im
    return resize_hwc(im, nw, nh)


def crop_image(im: np.ndarray, dx: int, dy: int, w: int, h: int) -> np.ndarray:
    """Darknet's `crop_image`: the w x h window at (dx, dy); reads outside clamp to the edge."""
    ih, iw = im.shape[:2]
    rows = np.clip(np.arange(h) + dy, 0, ih - 1)
    cols = np.clip(np.arange(w) + dx, 0, iw - 1)
    return im[rows[:, None], cols[None, :]]


def center_crop_image(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `center_crop_image`: the centred square of the shorter side, resized to w x h."""
    ih, iw = im.shape[:2]
    m = min(iw, ih)
    return resize_hwc(crop_image(im, (iw - m) // 2, (ih - m) // 2, m, m), w, h)


def resize_center_crop(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """What `classifier valid` feeds the network: `resize_min` to the network width, then the
    centred w x h window (`validate_classifier_single`)."""
    r = resize_min(im, w)
    rh, rw = r.shape[:2]
    return crop_image(r, (rw - w) // 2, (rh - h) // 2, w, h)


def letterbox_hwc(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `letterbox_image` (used by `classifier predict`): aspect kept, centred on 0.5 grey
    (`darkpy.formats.image.letterbox_image` on the (C, H, W) layout)."""
    out = letterbox_chw(np.asarray(im, np.float32).transpose(2, 0, 1), w, h)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def flip_image(im: np.ndarray) -> np.ndarray:
    return im[:, ::-1]


def rotate_crop_matrix(rad: float, s: float, w: int, h: int, dx: float, dy: float, aspect: float,
                       im_w: int, im_h: int) -> np.ndarray:
    """The 2x3 map from output pixel (x, y) to source position used by `rotate_crop_image`:
    source = R(rad) . ((x - w/2 + dx) * aspect / s, (y - h/2 + dy) / s) + image centre."""
    c, sn = math.cos(rad), math.sin(rad)
    ax, ay = aspect / s, 1.0 / s
    ox, oy = (dx - w / 2.0) * ax, (dy - h / 2.0) * ay
    return np.array([[c * ax, -sn * ay, c * ox - sn * oy + im_w / 2.0],
                     [sn * ax, c * ay, sn * ox + c * oy + im_h / 2.0]], dtype=np.float64)


def rotate_crop_image(im: np.ndarray, rad: float, s: float, w: int, h: int, dx: float, dy: float,
                      aspect: float) -> np.ndarray:
    import cv2

    m = rotate_crop_matrix(rad, s, w, h, dx, dy, aspect, im.shape[1], im.shape[0])
    out = cv2.warpAffine(np.ascontiguousarray(im), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0))
    return out.reshape(h, w, -1)

