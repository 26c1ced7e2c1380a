"""Command-line inputs and outputs of detection: image paths from arguments, Darknet's drawing
and console lines. No torch: the numpy engine's `darkpy detect` uses them too."""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from darkpy.assets import bundled
from darkpy.detect.results import Detection
from darkpy.errors import DataError
from darkpy.formats.datafile import read_list
from darkpy.formats.image import IMAGE_SUFFIXES


# -- inputs ----------------------------------------------------------------------------------

def expand_inputs(items: Iterable[str], stdin=None) -> list[str]:
    """Image paths from command-line items: files, folders (their images, sorted), globs, `.txt`
    lists (one path per line, as Darknet's lists) and `-` (a list read from stdin)."""
    paths: list[str] = []
    for item in items:
        item = str(item)
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin
            paths += [line.strip() for line in stream if line.strip()]
            continue
        p = Path(item)
        if not p.exists() and bundled(p) is not None:  # a bundled sample (data/dog.jpg) from anywhere
            p = bundled(p)
            item = str(p)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError("folder holds no images", file=p)
            paths += found
        elif p.suffix.lower() == ".txt" and p.is_file():
            paths += read_list(p)
        elif any(ch in item for ch in "*?["):
            found = sorted(glob.glob(item, recursive=True))
            if not found:
                raise DataError(f"no file matches {item!r}")
            paths += found
        else:
            paths.append(item)  # unreadable ones are reported when loading, the rest still run
    return paths


# -- drawing ---------------------------------------------------------------------------------

_COLORS = ((1, 0, 1), (0, 0, 1), (0, 1, 1), (0, 1, 0), (1, 1, 0), (1, 0, 0))


def _get_color(c: int, x: int, maximum: int) -> float:
    # Darknet's colour ramp (src/image.c get_color)
    ratio = (x / maximum) * 5
    i, j = int(np.floor(ratio)), int(np.ceil(ratio))
    ratio -= i
    return (1 - ratio) * _COLORS[i][c] + ratio * _COLORS[j][c]


def class_color(cls: int, classes: int) -> tuple[int, int, int]:
    """Darknet's box colour for a class, as an OpenCV BGR tuple."""
    classes = max(classes, 1)
    offset = cls * 123457 % classes
    r, g, b = (_get_color(k, offset, classes) for k in (2, 1, 0))
    return int(b * 255), int(g * 255), int(r * 255)


DARKNET_JPEG_QUALITY = 80   # Darknet's save_image writes its predictions at quality 80


def jpeg_quality(path) -> list[int]:
    """imwrite parameters for an annotated image: Darknet's JPEG quality (OpenCV's own default,
    95, makes files twice the size and takes 25% longer to encode); nothing for other formats."""
    import cv2

    suffix = str(path).lower().rsplit(".", 1)[-1]
    return [cv2.IMWRITE_JPEG_QUALITY, DARKNET_JPEG_QUALITY] if suffix in ("jpg", "jpeg") else []


def draw_detections(bgr: np.ndarray, dets: Sequence[Detection], classes: int) -> np.ndarray:
    """Boxes and labels drawn on a copy of `bgr` (one box per object; a box predicted for several
    classes gets one label listing them, as Darknet)."""
    import cv2

    img = bgr.copy()
    h, w = img.shape[:2]
    thick = max(1, int(h * 0.006))
    groups: dict[tuple, list[Detection]] = {}
    for d in dets:
        groups.setdefault((d.x1, d.y1, d.x2, d.y2), []).append(d)
    for group in groups.values():
        d = group[0]
        left, top, right, bottom = d.clipped(w, h)
        color = class_color(d.cls, classes)
        cv2.rectangle(img, (left, top), (right, bottom), color, thick)
        label = ", ".join(g.name if g.name is not None else str(g.cls) for g in group)
        scale = max(0.4, h / 1000)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y0 = max(top - th - base, 0)
        cv2.rectangle(img, (left, y0), (left + tw + 2, y0 + th + base), color, -1)
        cv2.putText(img, label, (left + 1, y0 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return img


def format_detections(dets: Sequence[Detection]) -> list[str]:
    """Darknet's console lines: `dog: 82%`."""
    return [f"{d.name if d.name is not None else d.cls}: {d.prob * 100:.0f}%" for d in dets]
