"""What a detector returns: `DetectionResult` per image, `Detection` per (box, class). numpy
only, so that both engines return the same objects (and evaluation reads the same record)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from darkpy.boxes import center_to_corners


@dataclass
class Detection:
    """One detected object (one box and class) in original-image pixels: what a detector returns,
    and what evaluation reads back from result files (`darkpy.eval.detections.Detections` rows).

    cls: class index (a WordTree node for tree networks); prob: objectness × class probability
    (what Darknet prints as a percentage, and the score evaluation ranks by); x1, y1, x2, y2: box
    corners in pixels of the original image, as floats, NOT clipped (see `clipped`); objectness:
    the box's objectness (None when read from a result file); name: the class name when names
    were given; probs: the box's probability for every class after NMS (a numpy array); image:
    the image it was found in (evaluation's key: the file stem)."""

    cls: int
    prob: float
    x1: float
    y1: float
    x2: float
    y2: float
    objectness: float | None = None
    name: str | None = None
    probs: np.ndarray | None = field(default=None, repr=False)
    image: str | None = None

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer corners clipped to the image as Darknet draws them (`draw_detections`)."""
        left, right = max(int(self.x1), 0), min(int(self.x2), width - 1)
        top, bottom = max(int(self.y1), 0), min(int(self.y2), height - 1)
        return left, top, right, bottom

    def valid_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The corners Darknet's `detector valid` writes (1-based pixels, clipped to [1, size])."""
        return (max(self.x1 + 1, 1.0), max(self.y1 + 1, 1.0), min(self.x2 + 1, float(width)),
                min(self.y2 + 1, float(height)))

    def to_dict(self) -> dict:
        return {"class": self.name if self.name is not None else self.cls, "class_id": self.cls,
                "confidence": round(self.prob, 6),
                "objectness": None if self.objectness is None else round(self.objectness, 6),
                "box": [round(v, 2) for v in (self.x1, self.y1, self.x2, self.y2)]}


@dataclass
class DetectionResult:
    """What the detector found in one image: the boxes that survived, box by box in Darknet's
    order, with every class probability. Iterating (or `detections`) gives one `Detection` per
    (box, class) above the threshold, best first, as `darknet detect` prints them.

    rel_boxes: (n, 4) centre x, y, w, h relative to the image; boxes: (n, 4) x1, y1, x2, y2 in
    pixels, not clipped (Darknet's drawing arithmetic: relative corner × image size);
    objectness: (n,); probs: (n, classes), zero where below thresh or suppressed (for
    `nms_kind="obj"` the probabilities as decoded, NMS acting on objectness)."""

    source: str
    index: int
    width: int
    height: int
    rel_boxes: np.ndarray
    objectness: np.ndarray
    probs: np.ndarray
    names: Sequence[str] | None = field(default=None, repr=False)
    image: np.ndarray | None = field(default=None, repr=False)
    _detections: list[Detection] | None = field(default=None, repr=False)

    @property
    def boxes(self) -> np.ndarray:
        return center_to_corners(self.rel_boxes) * np.array([self.width, self.height] * 2, np.float64)

    @property
    def pixel_boxes(self) -> np.ndarray:
        """Centre x, y, w, h in pixels (Darknet's `detector valid` scales before taking corners)."""
        return self.rel_boxes * np.array([self.width, self.height, self.width, self.height], np.float64)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def class_ids(self) -> np.ndarray:
        """Each box's best class."""
        return self.probs.argmax(1) if self.probs.size else np.zeros(len(self.probs), np.int64)

    @property
    def scores(self) -> np.ndarray:
        """Each box's best class probability."""
        return self.probs.max(1) if self.probs.size else np.zeros(len(self.probs))

    @property
    def class_names(self) -> list[str] | None:
        """The names of `class_ids` (None without names)."""
        if self.names is None:
            return None
        return [self.names[c] if c < len(self.names) else str(c) for c in self.class_ids.tolist()]

    @property
    def detections(self) -> list[Detection]:
        if self._detections is None:
            self._detections = self._make_detections()
        return self._detections

    def _make_detections(self) -> list[Detection]:
        rows, cols = np.nonzero(self.probs > 0)
        if not len(rows):
            return []
        p = self.probs[rows, cols]
        order = np.argsort(-p, kind="stable")
        rows, cols, p = rows[order], cols[order], p[order]
        corners = self.boxes[rows]
        names = self.names
        out = []
        for r, c, pv, (x1, y1, x2, y2) in zip(rows.tolist(), cols.tolist(), p.tolist(), corners.tolist()):
            name = names[c] if names is not None and c < len(names) else None
            out.append(Detection(c, pv, x1, y1, x2, y2, float(self.objectness[r]), name, self.probs[r]))
        return out

    def __len__(self) -> int:
        return len(self.detections)

    def __iter__(self) -> Iterator[Detection]:
        return iter(self.detections)

    def __getitem__(self, i: int) -> Detection:
        return self.detections[i]

    def to_dict(self) -> dict:
        return {"image": self.source, "width": self.width, "height": self.height,
                "detections": [d.to_dict() for d in self.detections]}
