"""ImageNet detection (ILSVRC DET) average precision, as the challenge's devkit scores it.

How it differs from VOC (darkpy.eval.voc):
- Each ground-truth box carries its own IoU threshold, `min(0.5, w*h / ((w+10)*(h+10)))` for a
  w x h box (inclusive pixels, as the devkit measures them): small objects may be matched with
  less overlap (a 10 x 10 box needs IoU 0.25, a 20 x 20 one 0.44; from about 40 px on it is 0.5).
- A detection takes, among the boxes of its class and image that are still unmatched and whose
  threshold its IoU reaches, the one it overlaps most; VOC takes the most-overlapping box first
  and calls the detection false when that box is already taken.
- Detections are ranked by score with a stable sort (ties keep their input order). AP is the
  area under the precision envelope (the devkit's `VOCap`, as VOC 2010+).

The ILSVRC ground truth has no "difficult" flag; should boxes carry one (or COCO's iscrowd), a
detection matched to such a box is neither true nor false and the box is not a positive, as in
VOC.

Matching is vectorised as darkpy.eval.coco's: detections are grouped by (class, image) and
step r takes the r-th best detection of every group at once; only detections that reach some
box's threshold take part (the others are false positives whatever happens).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkpy.boxes import voc_iou
from darkpy.eval.voc import EPS, ap_area, padded_groups
from darkpy.assets import asset as asset_path
from darkpy.wordtree.tree import read_tree


def ilsvrc_thresholds(box: np.ndarray) -> np.ndarray:
    """Per ground-truth box (x1 y1 x2 y2, inclusive pixels) the IoU its match must reach."""
    box = np.asarray(box, np.float64).reshape(-1, 4)
    w = box[:, 2] - box[:, 0] + 1.0
    h = box[:, 3] - box[:, 1] + 1.0
    return np.minimum(0.5, (w * h) / ((w + 10.0) * (h + 10.0)))


@dataclass
class IlsvrcResult:
    """Per class: positives and AP (None without positives); per detection: the outcome."""

    npos: np.ndarray      # (K,) int
    ap: list[float | None]
    tp: np.ndarray        # (n,) bool, in input order
    fp: np.ndarray        # (n,) bool (detections matched to an ignored box are neither)
    matched: np.ndarray   # (n,) int: ground-truth box index, -1 when none


def ilsvrc_match(d_img: np.ndarray, d_cls: np.ndarray, d_score: np.ndarray, d_box: np.ndarray,
                 g_img: np.ndarray, g_cls: np.ndarray, g_box: np.ndarray, images: int
                 ) -> np.ndarray:
    """Ground-truth box each detection matches (-1: none), with the ILSVRC rules above."""
    n = len(d_score)
    matched = np.full(n, -1, np.int64)
    if n == 0 or len(g_box) == 0:
        return matched
    d_key = d_cls.astype(np.int64) * images + d_img.astype(np.int64)
    g_key = g_cls.astype(np.int64) * images + g_img.astype(np.int64)
    keys = np.unique(g_key)
    d_group = np.searchsorted(keys, d_key)
    has = (d_group < len(keys)) & (keys[np.minimum(d_group, len(keys) - 1)] == d_key)
    g_group = np.searchsorted(keys, g_key)
    gorder, table, width = padded_groups(g_group, len(keys))
    thr = ilsvrc_thresholds(g_box)

    cand = np.flatnonzero(has)
    slots = table[d_group[cand]]                       # (c, M) positions into gorder
    valid = slots >= 0
    gidx = gorder[np.where(valid, slots, 0)]           # (c, M) box indexes
    iou = voc_iou(d_box[cand][:, None, :], g_box[gidx])
    eligible = valid & (iou >= thr[gidx])
    keep = eligible.any(1)
    cand, gidx, iou, eligible = cand[keep], gidx[keep], iou[keep], eligible[keep]
    if not len(cand):
        return matched
    # rank of each candidate inside its group, in stable descending score order
    by_score = np.argsort(-d_score[cand], kind="stable")
    by_group = by_score[np.argsort(d_group[cand][by_score], kind="stable")]
    grp = d_group[cand][by_group]
    starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]])
    rank = np.empty(len(cand), np.int64)
    rank[by_group] = np.arange(len(cand)) - np.repeat(starts, np.diff(np.r_[starts, len(cand)]))
    taken = np.zeros((len(keys), width), bool)
    step_order = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[step_order], np.arange(int(rank.max()) + 2))
    for r in range(int(rank.max()) + 1):
        rows = step_order[bounds[r]:bounds[r + 1]]     # at most one detection per group
        g = d_group[cand[rows]]
        free = eligible[rows] & ~taken[g]
        score = np.where(free, iou[rows], -np.inf)
        j = np.argmax(score, axis=1)                   # the first of equal overlaps, as the devkit's >
        ok = free[np.arange(len(rows)), j]
        taken[g[ok], j[ok]] = True
        matched[cand[rows[ok]]] = gidx[rows[ok], j[ok]]
    return matched


def ilsvrc_evaluate(d_img: np.ndarray, d_cls: np.ndarray, d_score: np.ndarray, d_box: np.ndarray,
                    g_img: np.ndarray, g_cls: np.ndarray, g_box: np.ndarray, g_ignore: np.ndarray,
                    images: int, classes: int) -> IlsvrcResult:
    """AP per class with ILSVRC matching; `g_ignore` marks difficult/crowd boxes."""
    d_cls = np.asarray(d_cls, np.int64)
    g_cls = np.asarray(g_cls, np.int64)
    g_ignore = np.asarray(g_ignore, bool)
    matched = ilsvrc_match(d_img, d_cls, d_score, d_box, g_img, g_cls, g_box, images)
    hit = matched >= 0
    ignored = hit & g_ignore[np.maximum(matched, 0)] if len(g_ignore) else np.zeros(len(matched), bool)
    tp = hit & ~ignored
    fp = ~hit
    npos = np.zeros(classes, np.int64)
    if len(g_cls):
        npos = np.bincount(g_cls[~g_ignore], minlength=classes)[:classes]
    order = np.lexsort((-np.asarray(d_score, np.float64), d_cls))  # by class, then score (stable)
    cls_sorted = d_cls[order]
    bounds = np.searchsorted(cls_sorted, np.arange(classes + 1))
    aps: list[float | None] = []
    for c in range(classes):
        rows = order[bounds[c]:bounds[c + 1]]
        if not npos[c]:
            aps.append(None)
            continue
        ctp = np.cumsum(tp[rows]).astype(np.float64)
        cfp = np.cumsum(fp[rows]).astype(np.float64)
        aps.append(ap_area(ctp / npos[c], ctp / np.maximum(ctp + cfp, EPS)) if len(rows) else 0.0)
    return IlsvrcResult(npos.astype(np.int64), aps, tp, fp, matched)


# -- which DET classes have COCO detection data ------------------------------------------------


def coco_split(tree, det_nodes: list[int], coco_nodes: list[int]) -> np.ndarray:
    """(len(det_nodes),) bool: the DET classes that have COCO detection data.

    A DET class counts as having COCO data when its WordTree node and a COCO class's node are
    the same node or one lies below the other (e.g. 'dog' = 'dog'; 'domestic cat' below COCO's
    'cat'; 'racket' above 'tennis racket'): YOLO9000 then learned boxes for it, or for a class
    it contains or is part of, from COCO. With Darknet's 9k.tree, inet9k.map and coco9k.map this
    gives 57 classes with and 143 without (38 share the node itself). The paper reports 44 and
    156 from its own list, which Darknet does not ship."""
    coco = set(int(c) for c in coco_nodes)
    above_coco: set[int] = set()      # every COCO node and all its ancestors
    for c in coco:
        above_coco.update(tree.path_to_root(c))
    out = np.zeros(len(det_nodes), bool)
    for k, node in enumerate(det_nodes):
        out[k] = int(node) in above_coco or bool(coco.intersection(tree.path_to_root(int(node))))
    return out


def default_coco_split(classes: int) -> tuple[np.ndarray, str] | None:
    """The split for Darknet's 200 DET classes from the bundled 9k.tree, inet9k.map and
    coco9k.map, with a line saying so; None when the class count is not the map's."""

    det_map, coco_map = asset_path("data/inet9k.map"), asset_path("data/coco9k.map")
    det = [int(x) for x in det_map.read_text().split()]
    if len(det) != classes:
        return None
    coco = [int(x) for x in coco_map.read_text().split()]
    split = coco_split(read_tree(asset_path("data/9k.tree")), det, coco)
    return split, "COCO data: DET class node = / above / below a COCO node in data/9k.tree " \
                  "(inet9k.map, coco9k.map)"
