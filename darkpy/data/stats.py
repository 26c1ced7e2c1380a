"""`darkpy data stats`: what the boxes of a data set look like.

Anchors are chosen from the distribution of box widths and heights (`darkpy kmeans`), and class
imbalance explains many poor per-class APs; both are easier to judge on a chart than in numbers.
Broken label lines are left out here (`darkpy data check` reports them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from darkpy.charts import Chart
from darkpy.data.check import lists_of
from darkpy.formats.datafile import read_list
from darkpy.formats.labelcache import LabelCache
from darkpy.formats.labelset import read_list_labels

MAX_POINTS = 20000


@dataclass
class BoxStats:
    boxes: np.ndarray      # (n, 5): class x y w h
    images: int
    classes: int           # number of classes (from the .data file, else the largest id + 1)
    names: list[str]
    class_only: int = 0    # classification-only label lines (YOLO9000 `class 0 0 w h`), no box

    def per_class(self) -> np.ndarray:
        return np.bincount(self.boxes[:, 0].astype(np.int64), minlength=self.classes)[: self.classes]

    def name(self, i: int) -> str:
        return self.names[i] if i < len(self.names) else str(i)


def collect(target: str | Path, cache: LabelCache | None = None) -> BoxStats:
    """Every well-formed box of the training list (or of the given list). With a `cache`, label
    files unchanged since an earlier read (same size and mtime) are taken from it (same boxes)."""
    lists, classes, names, _ = lists_of(target)
    _, path = lists[0]
    base = path.parent.resolve()
    entries = read_list(path)
    labels = read_list_labels(entries, base, classes, cache=cache)  # missing or unreadable files: no boxes
    boxes = labels.boxes
    boxes = boxes[(boxes[:, 3] != 0) & (boxes[:, 4] != 0)]
    class_only = len(labels.class_only)
    if classes is None:
        classes = int(boxes[:, 0].max()) + 1 if len(boxes) else 0
    return BoxStats(boxes, len(entries), classes, names, class_only)


def scatter(stats: BoxStats, out: str | Path, title: str = "box sizes") -> Path:
    """Width against height (normalised to the image), one colour per class (up to 8 named)."""
    chart = Chart(title, xlabel="box width / image width", ylabel="box height / image height",
                  xlim=(0.0, 1.0), ylim=(0.0, 1.0))
    boxes = stats.boxes
    if len(boxes) > MAX_POINTS:  # drawing is per point; a fixed sample shows the same shape
        boxes = boxes[np.random.default_rng(0).choice(len(boxes), MAX_POINTS, replace=False)]
    cls = boxes[:, 0].astype(np.int64)
    shown = np.argsort(-stats.per_class())[:7] if stats.classes > 8 else np.arange(stats.classes)
    rest = np.ones(len(cls), bool)
    for c in shown:
        pick = cls == c
        rest &= ~pick
        if pick.any():
            chart.add(boxes[pick, 3], boxes[pick, 4], label=stats.name(int(c)), points=True)
    if rest.any():
        chart.add(boxes[rest, 3], boxes[rest, 4], label="other classes", points=True)
    return chart.save(out)
