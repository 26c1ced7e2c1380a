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
from darkpy.data.check import check_labels, lists_of
from darkpy.errors import DataError
from darkpy.fileio import open_regular
from darkpy.formats.datafile import read_list
from darkpy.formats.labels import label_file

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


def collect(target: str | Path) -> BoxStats:
    """Every well-formed box of the training list (or of the given list)."""
    lists, classes, names, _ = lists_of(target)
    _, path = lists[0]
    base = path.parent.resolve()
    found = []
    class_only = 0
    entries = read_list(path)
    for entry in entries:
        label = label_file(entry, base)
        try:
            with open_regular(label, "label file", DataError, "r", os_errors=True, encoding="utf-8",
                              errors="replace", newline="") as fh:
                text = fh.read()
        except (OSError, DataError):  # missing, or not a regular file: no boxes from it
            continue
        boxes, _, only = check_labels(text, classes, str(label))
        found.append(boxes)
        class_only += only
    boxes = np.concatenate(found) if found else np.zeros((0, 5), np.float32)
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
