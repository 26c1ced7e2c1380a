"""The one place the serving code touches the detection library: loading a `Detector`, running a
prepared batch under per-request thresholds, and the JSON records. Everything else in
`darkpy.serve` goes through these functions, so a change in `darkpy.detect` is a change here.

`result_json` is the object `darkpy detect --json` prints for an image; `frame_json` is one frame
of AlexeyAB's `-json_port` stream (`frame_id`, `filename`, `objects` with `class_id`, `name`,
`relative_coordinates` and `confidence`)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from darkpy.detect.detector import Detector
from darkpy.detect.options import DetectOptions
from darkpy.detect.results import DetectionResult
from darkpy.errors import UsageError
from darkpy.net.inference import Predictor


@dataclass(frozen=True)
class Thresholds:
    """What a request may change without another forward pass: decode and NMS settings."""

    thresh: float
    nms: float
    hier_thresh: float


def make_detector(model, *, names: Optional[Sequence[str]], thresh: float, nms: float, hier_thresh: float,
                  letterbox: bool, device: Optional[str], precision: str, batch: int) -> Detector:
    """The served detector over a `Predictor` (as `darkpy.cli.precision.load_inference_predictor`
    loads it: a bf16/fp16 network read one layer at a time), or over a loaded network, folded for
    inference in place (the server owns it) at `precision`."""
    options = DetectOptions(thresh=thresh, nms=nms, hier_thresh=hier_thresh, letterbox=letterbox, batch=batch,
                            names=names, device=device, precision=precision)
    predictor = model if isinstance(model, Predictor) else Predictor(model, device=device, precision=precision,
                                                                     inplace=True)
    return Detector(predictor, options=options)


def served_classes(net, cfg) -> int:
    """The class count of the network to serve (the most of its detection layers); a cfg with
    no detection layer is refused."""
    if not net.detection_layers:
        raise UsageError(f"{cfg} has no [region] or [yolo] layer: it is not a detector")
    return max(l.classes for l in net.detection_layers)


def thresholds(detector: Detector) -> Thresholds:
    o = detector.options
    return Thresholds(o.thresh, o.nms, o.hier_thresh)


def batch_size(detector: Detector) -> int:
    return max(1, int(detector.options.batch))


def classes(detector: Detector) -> int:
    return detector.classes


def class_names(detector: Detector) -> Optional[Sequence[str]]:
    return detector.options.names


def prepare(detector: Detector, bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The network input for one BGR image and its (width, height): CPU work, run off the loop."""
    return detector.prepare(bgr)


class Runner:
    """Runs prepared batches: one forward pass for the batch, then each image's decode and NMS
    under its own request's thresholds (views of the detector with other options, cached)."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self._views: dict[Thresholds, Detector] = {thresholds(detector): detector}

    def _view(self, t: Thresholds) -> Detector:
        view = self._views.get(t)
        if view is None:
            view = copy.copy(self.detector)
            view.options = self.detector.options.replace(thresh=t.thresh, nms=t.nms,
                                                         hier_thresh=t.hier_thresh)
            if len(self._views) > 64:  # many distinct query values: keep the cache small
                self._views = {thresholds(self.detector): self.detector}
            self._views[t] = view
        return view

    def run(self, xs: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]],
            settings: Sequence[Thresholds], sources: Sequence[str]) -> list[DetectionResult]:
        with torch.inference_mode():
            outputs = self.detector.forward(np.stack(list(xs)))
            results = []
            for k, (size, t, source) in enumerate(zip(sizes, settings, sources)):
                one = [o[k:k + 1] for o in outputs]
                results.append(self._view(t).postprocess(one, [size], [source], [0])[0])
        return results


def result_json(result: DetectionResult, name: str) -> dict:
    """What `darkpy detect --json` prints for this image (`image` is `name`)."""
    return {"image": name, "width": result.width, "height": result.height,
            "detections": [d.to_dict() for d in result.detections]}


def frame_json(result: DetectionResult, frame_id: int, filename: Optional[str] = None) -> dict:
    """One frame of AlexeyAB's `-json_port` stream: one object per (box, class) above the
    threshold, coordinates relative to the frame (centre, width, height)."""
    w, h = float(result.width), float(result.height)
    objects = []
    for d in result.detections:
        objects.append({
            "class_id": int(d.cls), "name": d.name if d.name is not None else str(d.cls),
            "relative_coordinates": {"center_x": round((d.x1 + d.x2) / 2 / w, 6),
                                     "center_y": round((d.y1 + d.y2) / 2 / h, 6),
                                     "width": round((d.x2 - d.x1) / w, 6),
                                     "height": round((d.y2 - d.y1) / h, 6)},
            "confidence": round(float(d.prob), 6)})
    out: dict = {"frame_id": int(frame_id)}
    if filename is not None:
        out["filename"] = filename
    out["objects"] = objects
    return out


def detections_of(result) -> list:
    return list(result.detections)

