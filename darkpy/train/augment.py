"""Darknet's detection-training augmentation (YOLOv2's `load_data_detection`), vectorised.

For each training image Darknet:

1. draws a crop: `dw = int(jitter * w)`, `dh = int(jitter * h)`, and four offsets `pleft, pright`
   in `int(uniform(-dw, dw))`, `ptop, pbot` likewise. The crop `[pleft, w - pright) x [ptop,
   h - pbot)` may reach outside the image (its border pixels are repeated there) and changes the
   aspect ratio;
2. resizes the crop to the network size (bilinear, corners aligned: Darknet's `resize_image`) --
   no letterbox in YOLOv2 training;
3. flips left-right with probability 1/2;
4. distorts colours in HSV: hue shifted by `uniform(-hue, hue)` (wrapping), saturation and value
   multiplied by `rand_scale(saturation)` / `rand_scale(exposure)` (a factor in [1, s], inverted
   half of the time), then RGB clipped to [0, 1];
5. moves the boxes with the crop (Darknet's `correct_boxes`, here `correct_label_boxes`): corners
   scaled and shifted, mirrored on a flip, clipped to [0, 1]; then keeps the first `max_boxes`
   (after shuffling the image's boxes) and drops those narrower or shorter than 0.001 of the
   image (`fill_truth_detection`).

Steps 1-3 are one `cv2.warpAffine` (the crop, resize and flip are one affine map), step 4 is two
`cv2.cvtColor` calls on the whole image; nothing runs per pixel in Python. Random draws come from
a `numpy.random.Generator`, so an image's augmentation is reproducible from its seed.

Classification-only labels (YOLO9000): a label row with x = y = 0 (Darknet's written form) or
x, y >= 100000 (the marker itself, `darkpy.formats.labels`) is not a box: as in Darknet's
`correct_boxes` it becomes the marker row (x = y = MARK) that the region loss reads as "class
only", untouched by the crop and flip and never dropped as small. One deliberate difference from
Darknet's C: dropped small boxes do not leave holes in the truth list.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkpy.formats.labels import MARK, is_class_only

MIN_BOX = 0.001


@dataclass(frozen=True)
class Jitter:
    pleft: int
    pright: int
    ptop: int
    pbot: int
    flip: bool
    dhue: float = 0.0
    dsat: float = 1.0
    dexp: float = 1.0


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    if hi < lo:
        lo, hi = hi, lo
    return float(lo + (hi - lo) * rng.random())


def rand_scale(rng: np.random.Generator, s: float) -> float:
    """Darknet's `rand_scale`: uniform in [1, s], inverted with probability 1/2."""
    scale = _uniform(rng, 1.0, s)
    return scale if rng.integers(2) else 1.0 / scale


def draw_jitter(rng: np.random.Generator, width: int, height: int, jitter: float, hue: float = 0.0,
                saturation: float = 1.0, exposure: float = 1.0) -> Jitter:
    """Darknet's draws, in its order: pleft, pright, ptop, pbot, flip, then the HSV distortion."""
    dw, dh = int(width * jitter), int(height * jitter)
    pleft = int(_uniform(rng, -dw, dw))
    pright = int(_uniform(rng, -dw, dw))
    ptop = int(_uniform(rng, -dh, dh))
    pbot = int(_uniform(rng, -dh, dh))
    flip = bool(rng.integers(2))
    dhue = _uniform(rng, -hue, hue)
    dsat = rand_scale(rng, saturation)
    dexp = rand_scale(rng, exposure)
    return Jitter(pleft, pright, ptop, pbot, flip, dhue, dsat, dexp)


def crop_resize(img: np.ndarray, j: Jitter, w: int, h: int) -> np.ndarray:
    """Crop (border pixels repeated outside the image), resize to w x h with aligned corners, flip."""
    import cv2

    oh, ow = img.shape[:2]
    sw, sh = ow - j.pleft - j.pright, oh - j.ptop - j.pbot
    sx = (sw - 1) / (w - 1) if w > 1 else 0.0
    sy = (sh - 1) / (h - 1) if h > 1 else 0.0
    # destination (x, y) -> source (pleft + x*sx, ptop + y*sy); a flip reads column w-1-x
    if j.flip:
        m = np.array([[-sx, 0.0, j.pleft + (w - 1) * sx], [0.0, sy, j.ptop]], dtype=np.float64)
    else:
        m = np.array([[sx, 0.0, j.pleft], [0.0, sy, j.ptop]], dtype=np.float64)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def distort(img: np.ndarray, dhue: float, dsat: float, dexp: float) -> np.ndarray:
    """Darknet's `distort_image` on an RGB float image in [0, 1] (returns a new array)."""
    import cv2

    if dhue == 0.0 and dsat == 1.0 and dexp == 1.0:
        return img
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)          # H in [0, 360), S and V in [0, 1]
    if dsat != 1.0:
        hsv[..., 1] *= dsat
    if dexp != 1.0:
        hsv[..., 2] *= dexp
    if dhue != 0.0:
        hue = hsv[..., 0] + dhue * 360.0
        hue[hue >= 360.0] -= 360.0
        hue[hue < 0.0] += 360.0
        hsv[..., 0] = hue
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(out, 0.0, 1.0, out=out)


def correct_label_boxes(labels: np.ndarray, j: Jitter, ow: int, oh: int) -> np.ndarray:
    """Labels (n, 5: class x y w h, normalised to the original image) -> (n, 5: x y w h class)
    in the augmented image, clipped as Darknet clips them; classification-only rows become marker
    rows `MARK MARK w h class` (Darknet's 999999), in place."""
    if labels.size == 0:
        return np.zeros((0, 5), np.float32)
    sw, sh = ow - j.pleft - j.pright, oh - j.ptop - j.pbot
    cls, x, y, w, h = (labels[:, k].astype(np.float64) for k in range(5))
    left, right = (x - w / 2) * ow, (x + w / 2) * ow
    top, bottom = (y - h / 2) * oh, (y + h / 2) * oh
    left, right = (left - j.pleft) / sw, (right - j.pleft) / sw
    top, bottom = (top - j.ptop) / sh, (bottom - j.ptop) / sh
    if j.flip:
        left, right = 1.0 - right, 1.0 - left
    left, right = np.clip(left, 0, 1), np.clip(right, 0, 1)
    top, bottom = np.clip(top, 0, 1), np.clip(bottom, 0, 1)
    out = np.stack([(left + right) / 2, (top + bottom) / 2, np.clip(right - left, 0, 1),
                    np.clip(bottom - top, 0, 1), cls], 1)
    marker = is_class_only(x, y)
    if marker.any():
        out[marker] = np.stack([np.full_like(x, MARK), np.full_like(y, MARK), w, h, cls], 1)[marker]
    return out.astype(np.float32)


def fill_truth(boxes: np.ndarray, max_boxes: int) -> np.ndarray:
    """(max_boxes, 5) x y w h class: the first max_boxes boxes, tiny ones dropped, zero-padded."""
    truth = np.zeros((max_boxes, 5), np.float32)
    boxes = boxes[:max_boxes]
    if len(boxes):
        marker = is_class_only(boxes[:, 0], boxes[:, 1])
        boxes = boxes[marker | ((boxes[:, 2] >= MIN_BOX) & (boxes[:, 3] >= MIN_BOX))]
    truth[: len(boxes)] = boxes
    return truth


def augment_detection(img: np.ndarray, labels: np.ndarray, rng: np.random.Generator, w: int, h: int, *,
                      jitter: float, hue: float, saturation: float, exposure: float,
                      max_boxes: int) -> tuple[np.ndarray, np.ndarray]:
    """One training sample: `img` RGB float32 HxWx3 in [0, 1], `labels` (n, 5) class x y w h.
    Returns (3 x h x w float32, (max_boxes, 5) truth x y w h class)."""
    oh, ow = img.shape[:2]
    j = draw_jitter(rng, ow, oh, jitter, hue, saturation, exposure)
    sized = crop_resize(img, j, w, h)
    sized = distort(sized, j.dhue, j.dsat, j.dexp)
    order = rng.permutation(len(labels)) if len(labels) > 1 else np.arange(len(labels))
    boxes = correct_label_boxes(labels[order], j, ow, oh)
    return np.ascontiguousarray(sized.transpose(2, 0, 1)), fill_truth(boxes, max_boxes)
