"""One entry point for every caller: `evaluate(detections, ground_truth)`.

Result files (`darkpy map --results`), a network run (`darkpy valid`, `darkpy map DATA CFG
WEIGHTS`) and training (`darkpy train --map`) all end here with in-memory arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from darkpy.errors import DataError, UsageError
from darkpy.eval.detections import Detections, GroundTruth
from darkpy.eval.coco import CocoResult, coco_evaluate
from darkpy.eval.ilsvrc import ilsvrc_evaluate
from darkpy.eval.voc import VocClassResult, voc_class

METRICS = ("voc07", "voc", "coco", "ilsvrc")
ALL = ("voc07", "voc", "coco")  # what `all` (the default) means; ilsvrc is asked for by name


@dataclass
class ClassReport:
    name: str
    positives: int  # non-difficult boxes
    detections: int
    ap07: float | None = None
    ap: float | None = None
    coco_ap: float | None = None
    coco_ap50: float | None = None
    coco_ap75: float | None = None
    ilsvrc_ap: float | None = None
    tp: int = 0  # at `thresh`, VOC matching at `iou_thresh`
    fp: int = 0
    fn: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    avg_iou: float | None = None  # mean IoU of the true positives
    curve: tuple[np.ndarray, np.ndarray] | None = None  # VOC (recall, precision)


@dataclass
class EvalReport:
    metrics: tuple[str, ...]
    iou_thresh: float
    thresh: float
    classes: list[ClassReport] = field(default_factory=list)
    coco: CocoResult | None = None
    images: int = 0
    coco_split: np.ndarray | None = None  # (classes,) bool: ILSVRC classes with COCO detection data
    split_note: str = ""                  # how coco_split was derived

    def mean(self, attr: str) -> float | None:
        """Mean over classes that have a value (classes without positives have none)."""
        values = [getattr(c, attr) for c in self.classes if getattr(c, attr) is not None]
        return float(np.mean(values)) if values else None

    @property
    def map07(self) -> float | None:
        return self.mean("ap07") if "voc07" in self.metrics else None

    @property
    def map(self) -> float | None:
        return self.mean("ap") if "voc" in self.metrics else None

    @property
    def map_ilsvrc(self) -> float | None:
        return self.mean("ilsvrc_ap") if "ilsvrc" in self.metrics else None

    def ilsvrc_split(self) -> dict[str, dict[str, float | int | None]] | None:
        """mAP (ILSVRC) over the classes with and without COCO detection data."""
        if "ilsvrc" not in self.metrics or self.coco_split is None:
            return None
        out = {}
        for key, want in (("with_coco", True), ("without_coco", False)):
            values = [c.ilsvrc_ap for c, s in zip(self.classes, self.coco_split)
                      if bool(s) == want and c.ilsvrc_ap is not None]
            out[key] = {"classes": int(np.count_nonzero(np.asarray(self.coco_split) == want)),
                        "scored": len(values), "mAP": float(np.mean(values)) if values else None}
        return out

    def totals(self) -> dict[str, float | int | None]:
        """Darknet's summary at `thresh`, over all classes together."""
        tp = sum(c.tp for c in self.classes)
        fp = sum(c.fp for c in self.classes)
        fn = sum(c.fn for c in self.classes)
        ious = sum((c.avg_iou or 0.0) * c.tp for c in self.classes)
        p = tp / (tp + fp) if tp + fp else None
        r = tp / (tp + fn) if tp + fn else None
        f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else (0.0 if p is not None and r is not None else None)
        return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
                "avg_iou": ious / tp if tp else None}

    def to_dict(self) -> dict:
        per_class = {}
        for c in self.classes:
            per_class[c.name] = {k: getattr(c, k) for k in (
                "positives", "detections", "ap07", "ap", "coco_ap", "coco_ap50", "coco_ap75", "ilsvrc_ap",
                "tp", "fp", "fn", "precision", "recall", "f1", "avg_iou")}
        out: dict = {"images": self.images, "iou_thresh": self.iou_thresh, "thresh": self.thresh,
                     "metrics": list(self.metrics), "classes": per_class}
        if "voc07" in self.metrics:
            out["voc07_11point"] = {"mAP": self.map07, **{c.name: c.ap07 for c in self.classes}}
        if "voc" in self.metrics:
            out["voc_area"] = {"mAP": self.map, **{c.name: c.ap for c in self.classes}}
        if self.coco is not None:
            out["coco"] = dict(self.coco.stats)
        if "ilsvrc" in self.metrics:
            out["ilsvrc"] = {"mAP": self.map_ilsvrc, **{c.name: c.ilsvrc_ap for c in self.classes}}
            split = self.ilsvrc_split()
            if split is not None:
                out["ilsvrc_split"] = {**split, "rule": self.split_note}
        out["summary"] = self.totals()
        return out


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    items = [text] if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip().lower()
            if part == "all":
                names.extend(ALL)
            elif part in METRICS:
                names.append(part)
            elif part:
                raise UsageError(f"unknown metric {part!r}; choose from voc07, voc, coco, ilsvrc, all")
    return tuple(m for m in METRICS if m in names) or ALL


def _image_indices(dets: Detections, gt: GroundTruth) -> np.ndarray:
    if not len(dets):
        return np.empty(0, np.int64)
    uniq, inverse = np.unique(dets.image.astype(str), return_inverse=True)
    index = gt.index_of()
    missing = [u for u in uniq if u not in index]
    if missing:
        raise DataError(f"{len(missing)} detected image(s) are not in the ground truth, e.g. {missing[0]!r}")
    return np.array([index[u] for u in uniq], np.int64)[inverse.reshape(-1)]


def evaluate(dets: Detections, gt: GroundTruth, metrics: Sequence[str] | str = ALL,
             iou_thresh: float = 0.5, thresh: float = 0.25, coco_split: Sequence[bool] | None = None,
             split_note: str = "") -> EvalReport:
    """Score detections against ground truth with the chosen metrics.

    `iou_thresh` is the VOC matching threshold (COCO always uses .50:.05:.95, ILSVRC its
    size-dependent rule); `thresh` is the score cut-off of the TP/FP/FN summary. `coco_split`
    (one flag per class) splits the ILSVRC mean into classes with and without COCO data.
    """
    metrics = parse_metrics(metrics)
    if not 0.0 <= iou_thresh < 1.0:
        raise UsageError(f"the matching IoU threshold must be in [0, 1), got {iou_thresh}")
    k = len(gt.names)
    if len(dets) and (dets.cls.min() < 0 or dets.cls.max() >= k):
        raise DataError(f"detection class {int(dets.cls.max())} out of range for {k} classes")
    d_img = _image_indices(dets, gt)
    report = EvalReport(metrics, iou_thresh, thresh, images=len(gt.images))
    if coco_split is not None:
        if len(coco_split) != k:
            raise UsageError(f"the COCO split has {len(coco_split)} flags for {k} classes")
        report.coco_split, report.split_note = np.asarray(coco_split, bool), split_note
    voc_difficult = gt.difficult | gt.crowd
    for c, name in enumerate(gt.names):
        dm = dets.cls == c
        gm = gt.cls == c
        res: VocClassResult = voc_class(d_img[dm], dets.score[dm], dets.box[dm], gt.image[gm], gt.box[gm],
                                        voc_difficult[gm], len(gt.images), iou_thresh)
        row = ClassReport(name, res.npos, int(dm.sum()))
        if "voc07" in metrics:
            row.ap07 = res.ap07
        if "voc" in metrics:
            row.ap = res.ap
        if res.npos:
            row.curve = (res.recall, res.precision)
        above = res.score >= thresh
        row.tp = int(np.count_nonzero(res.tp & above))
        row.fp = int(np.count_nonzero(res.fp & above))
        row.fn = res.npos - row.tp
        row.precision = row.tp / (row.tp + row.fp) if row.tp + row.fp else None
        row.recall = row.tp / res.npos if res.npos else None
        if row.precision is not None and row.recall is not None:
            s = row.precision + row.recall
            row.f1 = 2 * row.precision * row.recall / s if s else 0.0
        row.avg_iou = float(res.iou[res.tp & above].mean()) if row.tp else None
        report.classes.append(row)
    if "ilsvrc" in metrics:
        il = ilsvrc_evaluate(d_img, dets.cls, dets.score, dets.box, gt.image, gt.cls, gt.box, voc_difficult,
                             len(gt.images), k)
        for c, row in enumerate(report.classes):
            row.ilsvrc_ap = il.ap[c]
    if "coco" in metrics:
        # pycocotools walks images in sorted id order (COCOeval: imgIds = sorted(...)), so equal
        # scores of different images rank by image id, not by the order of an image list
        by_id = np.arange(len(gt.images))
        if gt.coco_image_ids is not None and len(gt.coco_image_ids) == len(gt.images):
            by_id = np.argsort(np.argsort(np.asarray(gt.coco_image_ids), kind="stable"), kind="stable")
        report.coco = coco_evaluate(by_id[d_img], dets.cls, dets.score, dets.box, by_id[gt.image], gt.cls, gt.box,
                                    gt.area, gt.crowd, len(gt.images), k)
        for c, row in enumerate(report.classes):
            row.coco_ap = report.coco.class_ap(c)
            row.coco_ap50 = report.coco.class_ap(c, 0.5)
            row.coco_ap75 = report.coco.class_ap(c, 0.75)
    return report
