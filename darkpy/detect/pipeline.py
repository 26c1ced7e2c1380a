"""Detections as lists: `detections_from_raw` (a decoded batch row) and `detect_images`, a
generator kept for callers written before the `Detector` (darkpy.detect.detector).

    from darkpy.detect.pipeline import detect_images
    for path, (h, w), dets in detect_images(net, ["data/dog.jpg"], thresh=0.5):
        for d in dets:
            print(d.name or d.cls, d.prob, d.x1, d.y1, d.x2, d.y2)
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

from darkpy.detect.decode import RawBoxes
from darkpy.detect.detector import Detector
from darkpy.detect.options import DEFAULT_HIER_THRESH, DEFAULT_NMS, DEFAULT_THRESH, DetectOptions
from darkpy.detect.results import Detection, DetectionResult


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
                  class_map: Sequence[int] | None = None, hier_walk: str = "darknet"
                  ) -> Iterator[tuple[str, tuple[int, int], list[Detection]]]:
    """`Detector(net, ...).stream(paths)` as `(path, (height, width), detections)` tuples; unreadable
    images go to `on_error(path, message)`."""
    options = DetectOptions(thresh=thresh, hier_thresh=hier_thresh, nms=nms, letterbox=letterbox, batch=batch,
                            names=names, workers=workers, class_map=class_map, hier_walk=hier_walk)
    report = None if on_error is None else (lambda entry, error: on_error(entry, str(error)))
    for r in Detector(net, options=options).stream([str(p) for p in paths], on_error=report):
        dets = r.detections
        if not keep_probs:
            for d in dets:
                d.probs = None
        yield r.source, (r.height, r.width), dets
