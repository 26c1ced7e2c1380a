"""A generated detection data set: flat shapes on textured backgrounds, with exact boxes.

Training a detector end to end needs data that is quick to make, the same on every machine and
clearly learnable. Every class is a distinct silhouette (circle, square, triangle, ...); colour
and background are random so that only the shape tells classes apart. Each image is drawn from
its own random stream (`seed`, index), so any image can be regenerated alone and the set does not
depend on how many images were asked for.

Boxes come from the drawn mask itself, so a label is exactly the smallest box around the object's
pixels: pixel columns x0..x1-1 give centre (x0+x1)/2/W and width (x1-x0)/W.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from darkpy.errors import UsageError
from darkpy.fileio import staged_directory

SHAPES = ("circle", "square", "triangle", "cross", "ring", "star", "diamond", "hexagon")
MIN_FRACTION = 0.10  # object side, as a fraction of the image side
MAX_FRACTION = 0.50
MAX_OBJECTS = 4
MAX_OVERLAP = 0.15   # intersection over the smaller box, between any two objects


def _regular(n: int, r: float, phase: float) -> np.ndarray:
    a = phase + np.arange(n) * (2 * math.pi / n)
    return np.stack([np.cos(a), np.sin(a)], 1) * r


def _outline(shape: str, r: float, angle: float) -> list[tuple[np.ndarray, int]]:
    """Polygons (centred on 0,0, radius about r) and the value each one paints into the mask."""
    if shape == "circle":
        return [(_regular(48, r, 0.0), 1)]
    if shape == "ring":
        return [(_regular(48, r, 0.0), 1), (_regular(48, r * 0.55, 0.0), 0)]
    if shape == "square":
        return [(_regular(4, r, math.pi / 4 + angle * 0.3), 1)]
    if shape == "diamond":
        pts = np.array([[0, -r], [r * 0.6, 0], [0, r], [-r * 0.6, 0]])
        return [(pts, 1)]
    if shape == "triangle":
        return [(_regular(3, r, -math.pi / 2 + angle * 0.3), 1)]
    if shape == "hexagon":
        return [(_regular(6, r, angle), 1)]
    if shape == "star":
        outer = _regular(5, r, -math.pi / 2 + angle * 0.3)
        inner = _regular(5, r * 0.42, -math.pi / 2 + math.pi / 5 + angle * 0.3)
        return [(np.stack([outer, inner], 1).reshape(-1, 2), 1)]
    if shape == "cross":
        t = r * 0.33
        bar = np.array([[-r, -t], [r, -t], [r, t], [-r, t]])
        return [(bar, 1), (bar[:, ::-1], 1)]
    raise ValueError(shape)


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, float]:
    """Smooth colour noise over a gradient; returns the image and its mean brightness."""
    base = rng.uniform(40, 215, 3)
    coarse = rng.standard_normal((4, 4, 3), dtype=np.float32) * 28
    fine = rng.standard_normal((16, 16, 3), dtype=np.float32) * 14
    import cv2

    img = (cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
           + cv2.resize(fine, (size, size), interpolation=cv2.INTER_LINEAR))
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    direction = rng.uniform(-25, 25, 2).astype(np.float32)
    img += (ramp[None, :, None] * direction[0] + ramp[:, None, None] * direction[1])
    img += base.astype(np.float32)
    return img, float(img.mean())


def _place(rng: np.random.Generator, size: int,
           taken: list[tuple[int, int, int, int]]) -> tuple[float, float, float] | None:
    for _ in range(30):
        r = rng.uniform(MIN_FRACTION, MAX_FRACTION) * size / 2
        cx, cy = rng.uniform(r, size - r, 2)
        box = (cx - r, cy - r, cx + r, cy + r)
        if all(_overlap(box, t) <= MAX_OVERLAP for t in taken):
            return float(cx), float(cy), float(r)
    return None


def _overlap(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller


def _object_colour(rng: np.random.Generator, background: float) -> np.ndarray:
    """A random colour whose brightness stays well away from the background's."""
    if background > 128:
        level = rng.uniform(10, max(11.0, background - 80))
    else:
        level = rng.uniform(min(244.0, background + 80), 245)
    colour = rng.uniform(0.6, 1.4, 3)
    return np.clip(colour / colour.mean() * level, 0, 255)


def render(index: int, seed: int, size: int,
           classes: int) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """Image `index` of the set made with `seed`: a BGR uint8 image and its normalised boxes."""
    import cv2

    rng = np.random.default_rng([seed, index])
    img, mean = _background(rng, size)
    count = int(rng.integers(1, MAX_OBJECTS + 1))
    taken: list[tuple[float, float, float, float]] = []
    labels = []
    scale = 16  # sub-pixel vertex precision for fillPoly
    for _ in range(count):
        spot = _place(rng, size, taken)
        if spot is None:
            continue
        cx, cy, r = spot
        cls = int(rng.integers(0, classes))
        angle = float(rng.uniform(-math.pi, math.pi))
        lo = max(0, int(cx - r) - 2), max(0, int(cy - r) - 2)
        hi = min(size, int(math.ceil(cx + r)) + 2), min(size, int(math.ceil(cy + r)) + 2)
        mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        for pts, value in _outline(SHAPES[cls], r, angle):
            poly = np.round((pts + (cx - lo[0], cy - lo[1])) * scale).astype(np.int32)
            cv2.fillPoly(mask, [poly], value, lineType=cv2.LINE_8, shift=4)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        colour = _object_colour(rng, mean)
        patch = img[lo[1]:hi[1], lo[0]:hi[0]]
        inside = mask > 0
        shade = 1.0 + 0.04 * rng.standard_normal(int(inside.sum()), dtype=np.float32)
        patch[inside] = colour.astype(np.float32) * shade[:, None]
        x0, x1 = lo[0] + int(xs.min()), lo[0] + int(xs.max()) + 1
        y0, y1 = lo[1] + int(ys.min()), lo[1] + int(ys.max()) + 1
        taken.append((x0, y0, x1, y1))
        labels.append((cls, (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size))
    img += rng.standard_normal(img.shape, dtype=np.float32) * 4
    return np.clip(img, 0, 255, out=img).astype(np.uint8), labels


def format_label(cls: int, x: float, y: float, w: float, h: float) -> str:
    return f"{cls} {x:.6f} {y:.6f} {w:.6f} {h:.6f}"


def generate(out: str | Path, images: int = 500, classes: int = 4, size: int = 128, seed: int = 0,
             valid: float = 0.2, name: str = "synth",
             progress: Callable[[int], None] | None = None) -> Path:
    """Write the set into `out` (Darknet layout) and return the path of its `.data` file.

    Each label file is written twice, in labels/ (where pjreddie's Darknet looks) and beside its
    image in images/ (where AlexeyAB's looks), so both Darknets train on the same objects.

    The last `valid` fraction of the images (at least one when there are two or more) is the
    validation list; the rest is the training list. The whole folder is built aside and moved
    into place at the end, so an interrupted run leaves nothing behind.
    """
    import cv2

    if not 1 <= classes <= len(SHAPES):
        raise UsageError(f"--classes must be between 1 and {len(SHAPES)}, got {classes}")
    if images < 1:
        raise UsageError(f"--images must be at least 1, got {images}")
    if not 32 <= size <= 4096:
        raise UsageError(f"--size must be between 32 and 4096, got {size}")
    if not 0.0 <= valid < 1.0:
        raise UsageError(f"--valid must be in [0, 1), got {valid}")
    final = Path(out).expanduser().resolve()
    n_valid = int(round(images * valid))
    if valid > 0 and images >= 2:
        n_valid = max(1, n_valid)
    n_valid = min(n_valid, images - 1)
    width = max(6, len(str(images - 1)))
    paths = []
    with staged_directory(final) as stage:
        (stage / "images").mkdir()
        (stage / "labels").mkdir()
        (stage / "backup").mkdir()
        def make(i: int) -> str:
            img, labels = render(i, seed, size, classes)
            stem = f"{i:0{width}d}"
            ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not ok:
                raise OSError(f"OpenCV could not encode image {i}")
            with open(stage / "images" / f"{stem}.jpg", "wb") as fh:
                fh.write(jpeg.tobytes())
            text = "".join(format_label(*b) + "\n" for b in labels)
            # pjreddie's loader maps images/ to labels/; AlexeyAB's reads the file beside the
            # picture (darkpy.formats.alexeyab): both get one, so every Darknet trains on this set
            for folder in ("labels", "images"):
                with open(stage / folder / f"{stem}.txt", "w") as fh:
                    fh.write(text)
            return str(final / "images" / f"{stem}.jpg")

        # Each image has its own random stream, so threads change nothing in the output; OpenCV
        # and numpy release the GIL for most of the work.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for path in pool.map(make, range(images)):
                paths.append(path)
                if progress is not None:
                    progress(1)
        split = images - n_valid
        (stage / "train.txt").write_text("".join(p + "\n" for p in paths[:split]))
        (stage / "valid.txt").write_text("".join(p + "\n" for p in paths[split:]))
        (stage / f"{name}.names").write_text("".join(s + "\n" for s in SHAPES[:classes]))
        (stage / f"{name}.data").write_text(
            f"classes = {classes}\n"
            f"train = {final / 'train.txt'}\n"
            f"valid = {final / 'valid.txt' if n_valid else final / 'train.txt'}\n"
            f"names = {final / f'{name}.names'}\n"
            f"backup = {final / 'backup'}\n"
        )
    return final / f"{name}.data"


__all__ = ["SHAPES", "generate", "render", "format_label"]
