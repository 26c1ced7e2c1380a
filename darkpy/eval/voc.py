"""PASCAL VOC average precision, with the semantics of the widely used Python `voc_eval`.

Per class: detections sorted by descending score with numpy's default (unstable) argsort, as
`voc_eval` does, so ties land in the same order as there. Each detection takes the ground-truth
box it overlaps most (IoU with the +1 pixel convention) in its image; over the threshold it is a
true positive unless that box was already taken (then a false positive) or is difficult (then
neither). Below the threshold it is a false positive. Difficult boxes are not positives.

A class without any positive box has no AP (None) and is left out of the mean, rather than
poisoning it with NaN as `voc_eval`'s 0/0 recall would.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkpy.boxes import voc_iou

EPS = np.finfo(np.float64).eps


@dataclass
class VocClassResult:
    """One class: matching outcome in score order, the PR curve, and both APs."""

    npos: int
    score: np.ndarray  # detections' scores, sorted descending
    tp: np.ndarray  # bool per sorted detection
    fp: np.ndarray  # bool per sorted detection (difficult matches are neither)
    iou: np.ndarray  # best IoU per sorted detection (0 where the image has no box of the class)
    recall: np.ndarray
    precision: np.ndarray
    ap07: float | None
    ap: float | None


def ap_voc07(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007's 11-point AP: the mean of the best precision at recall >= 0, 0.1, ..., 1."""
    total = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        mask = recall >= t
        total += (np.max(precision[mask]) if mask.any() else 0.0) / 11.0
    return float(total)


def ap_area(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2010+ AP: the area under the precision envelope at every recall step."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def padded_groups(group: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of each group laid out as (groups, M) indices (-1 = padding) into the stable-sorted rows.

    Returns (order, table, M): `order` sorts the rows by group stably, `table[g, j]` is the
    position in `order` of group g's j-th row.
    """
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=groups)
    width = int(counts.max()) if len(counts) and counts.size else 0
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    j = np.arange(max(width, 0))
    table = np.where(j[None, :] < counts[:, None], starts[:, None] + j[None, :], -1)
    return order, table, width


def voc_class(det_image: np.ndarray, det_score: np.ndarray, det_box: np.ndarray,
              gt_image: np.ndarray, gt_box: np.ndarray, gt_difficult: np.ndarray,
              images: int, iou_thresh: float = 0.5, sort_kind: str = "quicksort") -> VocClassResult:
    """Score one class. Image arguments are integer indices below `images`.

    `sort_kind="quicksort"` is numpy's default and orders tied scores as `voc_eval` does (with
    the same numpy); "stable" keeps ties in input order instead.
    """
    npos = int(np.count_nonzero(~gt_difficult))
    order = np.argsort(-det_score, kind=sort_kind)  # voc_eval's call; ties fall as it breaks them
    d_img = det_image[order]
    d_box = det_box[order]
    nd = len(order)
    gorder, table, width = padded_groups(gt_image, images)
    best = np.zeros(nd)
    taken_gt = np.full(nd, -1, np.int64)
    if nd and width:
        rows = table[d_img]  # (nd, M) positions into gorder
        valid = rows >= 0
        gidx = gorder[np.where(valid, rows, 0)]
        ious = np.where(valid, voc_iou(d_box[:, None, :], gt_box[gidx]), -np.inf)
        j = np.argmax(ious, axis=1)
        best = ious[np.arange(nd), j]
        taken_gt = np.where(np.isfinite(best), gidx[np.arange(nd), j], -1)
        best = np.where(np.isfinite(best), best, 0.0)
    hit = (best > iou_thresh) & (taken_gt >= 0)
    difficult = hit & gt_difficult[np.maximum(taken_gt, 0)] if len(gt_difficult) else np.zeros(nd, bool)
    candidate = np.flatnonzero(hit & ~difficult)
    tp = np.zeros(nd, bool)
    if len(candidate):
        _, first = np.unique(taken_gt[candidate], return_index=True)
        tp[candidate[first]] = True
    fp = ~tp & ~difficult
    ctp = np.cumsum(tp).astype(np.float64)
    cfp = np.cumsum(fp).astype(np.float64)
    if npos:
        recall = ctp / npos
        precision = ctp / np.maximum(ctp + cfp, EPS)
        ap07, ap = ap_voc07(recall, precision), ap_area(recall, precision)
    else:
        recall = np.zeros(nd)
        precision = ctp / np.maximum(ctp + cfp, EPS)
        ap07 = ap = None
    return VocClassResult(npos, det_score[order], tp, fp, best, recall, precision, ap07, ap)
