"""COCO box evaluation, reproducing pycocotools' `COCOeval(..., 'bbox')` numbers in numpy.

pycocotools matches one (image, category) at a time in Python; here every group advances in
lock-step: step r handles the r-th best detection of every group that has one, for all area
ranges and IoU thresholds at once. The rules are pycocotools': detections sorted by score
(stable), at most 100 per group; a detection takes the unmatched box with the highest IoU at or
above the threshold (the last one among equals), preferring boxes that are not ignored (crowd or
outside the area range); crowd boxes may be matched many times and their IoU divides by the
detection's area; an unmatched detection outside the area range is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from darkpy.boxes import coco_iou

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
               "large": (96.0 ** 2, 1e5 ** 2)}
MAX_DETS = (1, 10, 100)
STAT_NAMES = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"]


@dataclass
class CocoResult:
    precision: np.ndarray  # (T, R, K, A, M), -1 where undefined
    recall: np.ndarray  # (T, K, A, M)
    stats: dict[str, float] = field(default_factory=dict)

    def class_ap(self, k: int, iou: float | None = None) -> float | None:
        """One class's AP over all IoU thresholds (or at one), all areas, 100 detections."""
        p = self.precision[:, :, k, 0, -1]
        if iou is not None:
            p = p[np.flatnonzero(np.isclose(IOU_THRS, iou))]
        p = p[p > -1]
        return float(p.mean()) if p.size else None


def _match(d_iou: np.ndarray, d_group: np.ndarray, d_rank: np.ndarray, g_table: np.ndarray,
           g_ignore: np.ndarray, g_crowd: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching for every group at once.

    d_iou: (n, M) IoU of each detection with its group's boxes (-1 for padding).
    g_table: (groups, M) box index per group slot (-1 padding); g_ignore: (A, m) per area range.
    Returns matched (A, T, n) bool and the matched box's ignore flag (A, T, n).
    """
    A, T, n = g_ignore.shape[0], len(IOU_THRS), len(d_group)
    matched = np.zeros((A, T, n), bool)
    matched_ig = np.zeros((A, T, n), bool)
    if n == 0 or g_table.shape[1] == 0:
        return matched, matched_ig
    M = g_table.shape[1]
    has_gt = (g_table >= 0).any(1)
    ndet = np.bincount(d_group, minlength=groups)
    ndet[~has_gt] = 0
    active = np.flatnonzero(ndet)
    active = active[np.argsort(-ndet[active], kind="stable")]  # busiest first: step r uses a prefix
    counts = ndet[active]
    # detection index of (active group p, rank r)
    first = np.full(groups, -1, np.int64)
    zero = np.flatnonzero(d_rank == 0)
    first[d_group[zero]] = zero
    starts = first[active]
    slots = g_table[active]
    valid = slots >= 0
    safe = np.where(valid, slots, 0)
    crowd = g_crowd[safe] & valid
    ignore = g_ignore[:, safe] & valid[None]  # (A, P, M)
    taken = np.zeros((A, T, len(active), M), bool)
    thr = IOU_THRS[:, None, None]
    rev = slice(None, None, -1)
    for r in range(int(counts.max()) if len(counts) else 0):
        p = int(np.count_nonzero(counts > r))
        det = starts[:p] + r
        iou = d_iou[det]  # (p, M)
        hit = np.flatnonzero((iou >= IOU_THRS[0]).any(1))  # most detections overlap nothing
        if not len(hit):
            continue
        det, iou = det[hit], iou[hit]
        above = iou[None] >= np.minimum(thr, 1 - 1e-10)  # (T, h, M)
        crowd_h = crowd[hit][None]
        for a in range(A):
            free = above & ~(taken[a][:, hit] & ~crowd_h)
            # non-ignored boxes rank above ignored ones (+2), free ones above taken ones (-3)
            score = np.where(free, iou[None] + np.where(ignore[a, hit], 0.0, 2.0)[None], -3.0)
            last = M - 1 - np.argmax(score[..., rev], axis=-1)  # the last best, as pycocotools' `<`
            t_idx, h_idx = np.nonzero(np.take_along_axis(score, last[..., None], -1)[..., 0] > -3.0)
            m_idx = last[t_idx, h_idx]
            taken[a, t_idx, hit[h_idx], m_idx] = True
            matched[a, t_idx, det[h_idx]] = True
            matched_ig[a, t_idx, det[h_idx]] = ignore[a, hit[h_idx], m_idx]
    return matched, matched_ig


def coco_evaluate(det_image: np.ndarray, det_cls: np.ndarray, det_score: np.ndarray, det_box: np.ndarray,
                  gt_image: np.ndarray, gt_cls: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
                  gt_crowd: np.ndarray, images: int, classes: int) -> CocoResult:
    """pycocotools' evaluate + accumulate + summarize. Images and classes are integer indices."""
    groups = images * classes
    A, T, R, K, Md = len(AREA_RANGES), len(IOU_THRS), len(REC_THRS), classes, len(MAX_DETS)
    ranges = np.array(list(AREA_RANGES.values()))

    # detections: by group, then score (stable, as pycocotools' mergesort), at most 100 per group
    d_key = det_cls.astype(np.int64) * images + det_image
    order = np.lexsort((-det_score, d_key))
    d_key = d_key[order]
    starts = np.searchsorted(d_key, np.arange(groups))
    rank = np.arange(len(d_key)) - starts[d_key]
    keep = rank < MAX_DETS[-1]
    order, d_key, rank = order[keep], d_key[keep], rank[keep]
    score = det_score[order]
    box = det_box[order]
    d_area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])

    g_key = gt_cls.astype(np.int64) * images + gt_image
    g_order = np.argsort(g_key, kind="stable")
    g_count = np.bincount(g_key, minlength=groups)
    M = int(g_count.max()) if len(g_key) else 0
    g_start = np.concatenate(([0], np.cumsum(g_count)[:-1]))
    j = np.arange(M)
    g_table = np.where(j[None] < g_count[:, None], g_order[np.minimum(g_start[:, None] + j[None], max(len(g_order) - 1, 0))]
                       if len(g_order) else 0, -1)
    g_ignore = gt_crowd[None] | (gt_area[None] < ranges[:, :1]) | (gt_area[None] > ranges[:, 1:])

    slots = g_table[d_key] if M else np.zeros((len(d_key), 0), np.int64)
    valid = slots >= 0
    safe = np.where(valid, slots, 0)
    if M and len(d_key):
        d_iou = np.where(valid, coco_iou(box[:, None], gt_box[safe], gt_crowd[safe]), -1.0)
    else:
        d_iou = np.zeros((len(d_key), M))
    matched, matched_ig = _match(d_iou, d_key, rank, g_table, g_ignore, gt_crowd, groups)
    outside = (d_area[None] < ranges[:, :1]) | (d_area[None] > ranges[:, 1:])  # (A, n)
    d_ignore = np.where(matched, matched_ig, outside[:, None, :])  # (A, T, n)

    precision = -np.ones((T, R, K, A, Md))
    recall = -np.ones((T, K, A, Md))
    # per class, by score (stable): pycocotools' mergesort over images' score-sorted lists
    d_cls = d_key // images
    perm = np.lexsort((-score, d_cls))
    d_cls, rank, score = d_cls[perm], rank[perm], score[perm]
    counted = ~d_ignore[:, :, perm]
    tp_all = matched[:, :, perm] & counted
    fp_all = ~tp_all & counted
    del counted
    c_start = np.searchsorted(d_cls, np.arange(K))
    c_end = np.searchsorted(d_cls, np.arange(K), side="right")
    g_by_cls = np.bincount(gt_cls, minlength=K) if len(gt_cls) else np.zeros(K, np.int64)
    for k in range(K):
        lo, hi = c_start[k], c_end[k]
        if hi == lo and g_by_cls[k] == 0:
            continue  # pycocotools: no image holds this class at all
        npig = np.count_nonzero(~g_ignore[:, gt_cls == k], axis=1)  # (A,)
        areas = np.flatnonzero(npig)
        if not len(areas):
            continue
        r_k = rank[lo:hi]
        tp_k, fp_k = tp_all[:, :, lo:hi][areas], fp_all[:, :, lo:hi][areas]
        n_ig = npig[areas][:, None, None].astype(np.float64)
        previous = None
        for mi, max_det in enumerate(MAX_DETS):
            sel = np.flatnonzero(r_k < max_det)  # a subset keeps the sorted order
            if previous is None or len(sel) != previous[0]:
                full = len(sel) == hi - lo
                tp_sum = np.cumsum(tp_k if full else tp_k[:, :, sel], axis=2, dtype=np.float64)
                fp_sum = np.cumsum(fp_k if full else fp_k[:, :, sel], axis=2, dtype=np.float64)
                nd = len(sel)
                rc = tp_sum / n_ig
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                pr = np.maximum.accumulate(pr[..., ::-1], axis=2)[..., ::-1]
                q = np.zeros((len(areas), T, R))
                for ai in range(len(areas)):
                    for t in range(T):
                        idx = np.searchsorted(rc[ai, t], REC_THRS, side="left")
                        ok = idx < nd
                        q[ai, t, ok] = pr[ai, t, idx[ok]]
                last = rc[..., -1] if nd else np.zeros((len(areas), T))
                previous = (len(sel), q, last)
            _, q, last = previous
            recall[:, k, areas, mi] = last.T
            precision[:, :, k, areas, mi] = q.transpose(1, 2, 0)
    result = CocoResult(precision, recall)
    result.stats = coco_stats(precision, recall)
    return result


def coco_stats(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """The 12 numbers of pycocotools' `stats`, -1 where nothing defines them."""
    areas = list(AREA_RANGES)

    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    def ap(iou: float | None = None, area: str = "all", md: int = 100) -> float:
        s = precision[..., areas.index(area), MAX_DETS.index(md)]
        if iou is not None:
            s = s[np.flatnonzero(IOU_THRS == iou)]
        return mean(s)

    def ar(area: str = "all", md: int = 100) -> float:
        return mean(recall[..., areas.index(area), MAX_DETS.index(md)])

    values = [ap(), ap(0.5), ap(0.75), ap(area="small"), ap(area="medium"), ap(area="large"),
              ar(md=1), ar(md=10), ar(), ar("small"), ar("medium"), ar("large")]
    return dict(zip(STAT_NAMES, values))
