"""Darknet's `detector recall`: how many labelled objects the network proposes a box for.

Class-agnostic. Each image is stretched to the network size (no letterbox), boxes are kept
when their objectness is above `thresh` (0.001), overlapping ones are pruned by objectness
(`do_nms_obj`, IoU 0.4), then:

- proposals: boxes left with objectness > thresh (reported per image, as a running mean);
- for every labelled object, its best IoU with any such box; it is found when that IoU is
  above `iou_thresh` (0.5);
- recall = found / objects, IoU = mean best IoU over all objects (missed ones count 0).

The numbers are running totals over the list so far, as Darknet prints them line by line.
Darknet only looks at the first `w*h*n` boxes of the last layer; here every box of every
detection layer is looked at (the same thing for YOLOv2's single region layer).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from darkpy.boxes import box_iou
from darkpy.detect.numpy_engine import detector_for
from darkpy.detect.options import RECALL_NMS, RECALL_THRESH, DetectOptions
from darkpy.formats.labels import read_labels
from darkpy.eval.run import _skip_message
from darkpy.eval.progress import progress_bar

RECALL_IOU = 0.5


@dataclass
class RecallReport:
    images: int = 0
    objects: int = 0
    found: int = 0
    proposals: int = 0
    iou_sum: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.objects if self.objects else None

    @property
    def avg_iou(self) -> float | None:
        return self.iou_sum / self.objects if self.objects else None

    @property
    def proposals_per_image(self) -> float | None:
        return self.proposals / self.images if self.images else None

    def line(self, index: int) -> str:
        """Darknet's progress line: image index, found, objects, proposals per image, IoU %, recall %."""
        iou = 100.0 * self.iou_sum / self.objects if self.objects else float("nan")
        rec = 100.0 * self.found / self.objects if self.objects else float("nan")
        rps = self.proposals / max(self.images, 1)
        return (f"{index:5d} {self.found:5d} {self.objects:5d}\tRPs/Img: {rps:.2f}"
                f"\tIOU: {iou:.2f}%\tRecall:{rec:.2f}%")

    def to_dict(self) -> dict:
        return {"images": self.images, "objects": self.objects, "found": self.found,
                "proposals": self.proposals, "proposals_per_image": self.proposals_per_image,
                "recall": self.recall, "avg_iou": self.avg_iou,
                "skipped": [e for e, _ in self.skipped]}


def truth_boxes(label: Path) -> np.ndarray:
    """(n, 4) relative x, y, w, h of a label file (classes are not needed)."""
    return read_labels(label)[:, 1:5].astype(np.float64)


def recall(net, entries: Sequence[str], labels: Sequence[Path], *, base: Path | None = None, batch: int = 8,
           workers: int = 0, thresh: float = RECALL_THRESH, iou_thresh: float = RECALL_IOU,
           nms: float = RECALL_NMS,
           letterbox: bool = False, on_line: Callable[[str], None] | None = None,
           on_skip: Callable[[str, str], None] | None = None, progress: bool | None = None) -> RecallReport:
    """Run `net` (a Network, Predictor, `NumpyNetwork` or a detector with `DetectOptions.recall()`-style
    options) over `entries` (with their `labels` files, in the same order) and count. Counting is
    numpy: with the numpy engine no torch is imported."""
    detector = detector_for(net, DetectOptions.recall(thresh=thresh, nms=nms, letterbox=letterbox,
                                                      batch=batch, workers=workers))
    label_of = dict(zip(entries, labels))
    rep = RecallReport()
    on_skip = on_skip or _skip_message
    bar = progress_bar(len(entries), "recall", progress, unit="img", leave=False)

    def skip(entry: str, error) -> None:
        bar.update(1)
        rep.skipped.append((entry, error.message))
        on_skip(entry, error.message)

    try:
        for r in detector.stream(entries, on_error=skip, base=base):
            bar.update(1)
            # the boxes as the network gave them (float32): Darknet's float IoU
            boxes = np.asarray(r.rel_boxes, dtype=np.float32)
            truth = truth_boxes(label_of[r.source]).astype(np.float32)
            rep.proposals += len(boxes)
            rep.images += 1
            rep.objects += len(truth)
            if len(truth) and len(boxes):
                best = box_iou(truth, boxes).max(axis=1).astype(np.float64)
                best = np.nan_to_num(best, nan=0.0)
                rep.iou_sum += float(best.sum())
                rep.found += int((best > iou_thresh).sum())
            line = rep.line(rep.images - 1)
            rep.lines.append(line)
            if on_line is not None:
                on_line(line)
    finally:
        bar.close()
    return rep
