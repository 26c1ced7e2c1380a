"""Around the `Detector` (darkpy.detect.detector): command-line inputs, drawing, Darknet's console
lines, and `detect_images`, a generator kept for callers written before the `Detector`.

    from darkpy.detect.pipeline import detect_images
    for path, (h, w), dets in detect_images(net, ["data/dog.jpg"], thresh=0.5):
        for d in dets:
            print(d.name or d.cls, d.prob, d.x1, d.y1, d.x2, d.y2)
"""
from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from darkpy.detect.decode import RawBoxes
from darkpy.detect.detector import (  # noqa: F401  (re-exported)
    DEFAULT_HIER_THRESH, DEFAULT_NMS, DEFAULT_THRESH, VALID_THRESH, DetectionResult, DetectOptions, Detection,
    Detector)
from darkpy.errors import DataError
from darkpy.formats.image import IMAGE_SUFFIXES
from darkpy.formats.datafile import read_list


def detections_from_raw(raw: RawBoxes, width: int, height: int, names: Sequence[str] | None = None,
                        keep_probs: bool = False) -> list[Detection]:
    """One Detection per (box, class) with a non-zero probability, best first."""
    live = torch.nonzero(((raw.probs > 0) & (raw.objectness[:, None] > 0)).any(dim=1)).flatten()
    result = DetectionResult("", 0, width, height, raw.boxes[live].cpu().double().numpy(),
                             raw.objectness[live].cpu().double().numpy(),
                             raw.probs[live].cpu().double().numpy(), names)
    dets = result.detections
    if not keep_probs:
        for d in dets:
            d.probs = None
    return dets


def detect_images(net, paths: Sequence[str | Path], thresh: float = DEFAULT_THRESH,
                  hier_thresh: float = DEFAULT_HIER_THRESH, nms: float = DEFAULT_NMS, letterbox: bool = True,
                  batch: int = 1, names: Sequence[str] | None = None, keep_probs: bool = False,
                  workers: int = 0,
                  on_error: Callable[[str, str], None] | None = None,
                  class_map: Sequence[int] | None = None
                  ) -> Iterator[tuple[str, tuple[int, int], list[Detection]]]:
    """`Detector(net, ...).stream(paths)` as `(path, (height, width), detections)` tuples; unreadable
    images go to `on_error(path, message)`."""
    options = DetectOptions(thresh=thresh, hier_thresh=hier_thresh, nms=nms, letterbox=letterbox, batch=batch,
                            names=names, workers=workers, class_map=class_map)
    report = None if on_error is None else (lambda entry, error: on_error(entry, str(error)))
    for r in Detector(net, options=options).stream([str(p) for p in paths], on_error=report):
        dets = r.detections
        if not keep_probs:
            for d in dets:
                d.probs = None
        yield r.source, (r.height, r.width), dets


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
