"""The records shared by every reader, writer and metric (the IoU arithmetic is in darkpy.boxes).

Coordinates are Darknet's internal ones: continuous pixels, 0-based, boxes as x1 y1 x2 y2.
Readers of 1-based formats (VOC result files, VOC XML) subtract 1 and writers add it back, so
a box means the same thing whichever file it came from. IoU is translation invariant, so the
VOC metric still applies its "+1 pixel" width convention on top of these numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

from darkpy.detect.results import Detection


@dataclass
class Detections:
    """Many detections as parallel arrays: the matchers need columns, not objects."""

    image: np.ndarray  # (n,) str keys (image file stem, as Darknet's basecfg gives)
    cls: np.ndarray  # (n,) int64 class index into the names
    score: np.ndarray  # (n,) float64
    box: np.ndarray  # (n, 4) float64 x1 y1 x2 y2

    def __post_init__(self) -> None:
        self.image = np.asarray(self.image, dtype=object).reshape(-1)
        self.cls = np.asarray(self.cls, dtype=np.int64).reshape(-1)
        self.score = np.asarray(self.score, dtype=np.float64).reshape(-1)
        self.box = np.asarray(self.box, dtype=np.float64).reshape(-1, 4)
        n = len(self.image)
        if not (len(self.cls) == len(self.score) == len(self.box) == n):
            raise ValueError("detection columns differ in length")

    def __len__(self) -> int:
        return len(self.image)

    def __iter__(self) -> Iterator[Detection]:
        """One `Detection` per row (its `prob` is the row's score, its `image` the image key)."""
        for i in range(len(self)):
            yield Detection(int(self.cls[i]), float(self.score[i]), *map(float, self.box[i]), image=str(self.image[i]))

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.empty(0, object), np.empty(0, np.int64), np.empty(0), np.empty((0, 4)))

    @classmethod
    def from_records(cls, records: Iterable[Detection | Sequence]) -> "Detections":
        """From `Detection`s (with their `image`) or (image, cls, score, x1, y1, x2, y2) rows."""
        rows = [(r.image, r.cls, r.prob, r.x1, r.y1, r.x2, r.y2) if isinstance(r, Detection) else tuple(r)
                for r in records]
        if not rows:
            return cls.empty()
        image, c, s, x1, y1, x2, y2 = zip(*rows)
        return cls(np.array(image, dtype=object), np.array(c), np.array(s), np.stack([x1, y1, x2, y2], 1))

    @classmethod
    def concat(cls, parts: Sequence["Detections"]) -> "Detections":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.image for p in parts]),
            np.concatenate([p.cls for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.box for p in parts]),
        )

    @classmethod
    def from_probs(cls, image: str, box: np.ndarray, probs: np.ndarray) -> "Detections":
        """A network's output for one image: boxes (n, 4) x1 y1 x2 y2 pixels and per-class probabilities
        (n, classes). One detection per non-zero probability, box by box, classes in turn: the order
        in which Darknet prints them, which decides how tied scores fall."""
        box = np.asarray(box, np.float64).reshape(-1, 4)
        probs = np.asarray(probs, np.float64)
        if not len(box):
            return cls.empty()
        probs = probs.reshape(len(box), -1)
        i, j = np.nonzero(probs)
        return cls(np.full(len(i), image, dtype=object), j, probs[i, j], box[i])

    def take(self, index: np.ndarray) -> "Detections":
        return Detections(self.image[index], self.cls[index], self.score[index], self.box[index])


@dataclass
class GroundTruth:
    """Every evaluated image (also those without objects) and their boxes.

    `difficult` boxes follow VOC: they neither count as positives nor penalise a detection.
    `crowd` boxes follow COCO's iscrowd. `area` is COCO's area (the json's own value when the
    ground truth came from COCO json, else the box's w*h).
    """

    names: list[str]
    images: list[str]  # image keys, in list order
    image: np.ndarray  # (m,) int index into images
    cls: np.ndarray  # (m,) int64
    box: np.ndarray  # (m, 4) float64 x1 y1 x2 y2
    difficult: np.ndarray | None = None  # (m,) bool
    crowd: np.ndarray | None = None  # (m,) bool
    area: np.ndarray | None = None  # (m,) float64
    coco_image_ids: list[int] | None = None  # per image; Darknet's file-name number otherwise
    category_ids: list[int] | None = None  # per class, for COCO json
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (w, h)

    def __post_init__(self) -> None:
        m = len(np.asarray(self.image).reshape(-1))
        self.image = np.asarray(self.image, dtype=np.int64).reshape(-1)
        self.cls = np.asarray(self.cls, dtype=np.int64).reshape(-1)
        self.box = np.asarray(self.box, dtype=np.float64).reshape(-1, 4)
        self.difficult = (np.zeros(m, bool) if self.difficult is None
                          else np.asarray(self.difficult, bool).reshape(-1))
        self.crowd = np.zeros(m, bool) if self.crowd is None else np.asarray(self.crowd, bool).reshape(-1)
        if self.area is None:
            self.area = (self.box[:, 2] - self.box[:, 0]) * (self.box[:, 3] - self.box[:, 1])
        self.area = np.asarray(self.area, dtype=np.float64).reshape(-1)

    def __len__(self) -> int:
        return len(self.image)

    def index_of(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self.images)}
