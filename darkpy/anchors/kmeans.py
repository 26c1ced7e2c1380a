"""Dimension clusters: k-means over box shapes with distance 1 - IoU (YOLOv2, section 2).

Boxes are compared by shape only, as if they shared a centre, so
IoU((w, h), (W, H)) = min(w, W) * min(h, H) / (w*h + W*H - min(w, W) * min(h, H)).
That IoU is unchanged when every width is scaled by one factor and every height by another, so
clustering the normalised shapes and converting the result to grid cells or pixels afterwards
gives the same anchors as clustering in those units.

Choices, stated once:

* Centroid update: the (weighted) mean of the member widths and heights, as the YOLOv2 authors
  and most reimplementations do; `median=True` takes the weighted median instead, which is more
  robust to a few huge boxes. Neither is the exact minimiser of the mean 1 - IoU, so a run stops
  when the assignments stop changing (or after `max_iter` rounds), not when a loss stops falling.
* Initialisation: k-means++ with the squared 1 - IoU distance; up to `restarts` runs, the one
  with the highest average IoU wins. Each restart draws from its own stream spawned from `seed`,
  so the first r restarts are the same whatever `restarts` is. Restarts stop early once the best
  average IoU has been reached by three of them (the same optimum again: more restarts would
  not find another).
* On more than 8192 distinct shapes, restarts run on a weighted sample of 4096 draws (the
  restarts only choose a starting point; on the sample each costs milliseconds) and the winner
  is then iterated to convergence on every shape. `calc_anchors` (AlexeyAB) runs one k-means++
  on every box; this reaches the same or a higher average IoU in a fraction of its time.
* Empty clusters are re-seeded on the boxes that fit the remaining anchors worst.
* Identical shapes are merged first and carried as weights, which is exact (every formula here is
  a weighted sum) and makes real label sets, full of repeated pixel sizes, much smaller.
* Once few boxes still change anchor, the assignment step uses Hamerly-style bounds: 1 - IoU of
  centre-aligned boxes is the Jaccard distance of two rectangles, which is a metric, so the
  triangle inequality lets most boxes keep their anchor without recomputing any IoU. The result
  is the same as plain Lloyd iterations (see tests) up to float rounding at exact ties.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from darkpy.boxes import wh_iou as iou_wh
from darkpy.errors import DataError, UsageError

# Bounds are loosened by this much so that float32 rounding can never make a skipped box one
# that a plain recomputation would have moved.
_SLACK = 1e-5
# Bounds start paying off once fewer than this share of the boxes change anchor per round
# (measured on the 1M-box benchmark: 0.5%..2% are equally good, 10% and more clearly worse).
_BOUNDED_BELOW = 0.01
_RUNNER_UP_BELOW = 0.03


def avg_iou(boxes: np.ndarray, anchors: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean over boxes of the IoU with the best-fitting anchor (the paper's "Avg IOU")."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 2)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if len(boxes) == 0 or len(anchors) == 0:
        raise UsageError("average IoU needs at least one box and one anchor")
    if np.any(anchors <= 0) or not np.all(np.isfinite(anchors)):
        raise UsageError("anchors must be positive numbers")
    best = _best_iou64(boxes, anchors)
    if weights is None:
        return float(best.mean())
    weights = np.asarray(weights, dtype=np.float64)
    return float((best * weights).sum() / weights.sum())


def _best_iou64(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """`iou_wh(boxes, anchors).max(axis=1)`, value for value (the same float64 operations in the
    same order), one anchor at a time in reused buffers instead of (n, k) temporaries."""
    w = boxes[:, 0].astype(np.float64)
    h = boxes[:, 1].astype(np.float64)
    area = w * h
    best = np.full(len(boxes), -np.inf)
    inter = np.empty_like(w)
    tmp = np.empty_like(w)
    for aw, ah in anchors.tolist():
        np.minimum(w, aw, out=inter)
        inter *= np.minimum(h, ah, out=tmp)
        np.add(area, aw * ah, out=tmp)
        tmp -= inter
        np.divide(inter, tmp, out=inter)
        np.maximum(best, inter, out=best)
    return best


def dedupe(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (w, h) rows as float32 and how many times each occurs."""
    b = np.ascontiguousarray(np.asarray(boxes, dtype=np.float32).reshape(-1, 2))
    keys = b.view(np.uint64).ravel()
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq.view(np.float32).reshape(-1, 2).copy(), counts.astype(np.float64)


@dataclass
class Clusters:
    """Anchors (normalised w, h, sorted by area) and how well they fit the boxes."""

    anchors: np.ndarray                 # (k, 2) float64, normalised to the image
    avg_iou: float                      # weighted by box count
    members: np.ndarray                 # (k,) boxes whose best anchor this is
    iterations: list[int] = field(default_factory=list)  # per restart
    converged: list[bool] = field(default_factory=list)  # per restart
    restart_ious: list[float] = field(default_factory=list)
    restarts_run: int = 1                # restarts made (fewer than asked when they settled early)
    sample_ious: list[float] = field(default_factory=list)  # per restart, on the sample, if sampled

    @property
    def k(self) -> int:
        return len(self.anchors)


def kmeans_anchors(
    boxes: np.ndarray,
    k: int,
    *,
    restarts: int = 10,
    seed: int = 0,
    median: bool = False,
    max_iter: int = 300,
    weights: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> Clusters:
    """Cluster box shapes into `k` anchors; the best of `restarts` k-means++ runs by average IoU.

    `boxes` is (n, 2) positive w, h (any units). `progress(1)` is called after every restart.
    """
    if k < 1:
        raise UsageError(f"k must be at least 1, got {k}")
    if restarts < 1:
        raise UsageError(f"restarts must be at least 1, got {restarts}")
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 2)
    if len(boxes) == 0:
        raise DataError("no boxes to cluster")
    if not np.all(np.isfinite(boxes)) or np.any(boxes <= 0):
        raise DataError("box widths and heights must be positive and finite")
    if weights is None:
        wh, wt = dedupe(boxes)
    else:
        wh, wt = np.ascontiguousarray(boxes), np.asarray(weights, dtype=np.float64)
    if k > len(wh):
        raise UsageError(
            f"k={k} is more than the {len(wh)} distinct box shape{'s' if len(wh) != 1 else ''} "
            f"in the labels; use k <= {len(wh)}"
        )
    shapes = _Shapes(wh, wt)
    # one independent stream per restart: the first r restarts are the same whatever `restarts` is
    streams = np.random.SeedSequence(seed).spawn(restarts)
    sample = shapes
    if restarts > 1 and len(shapes) > _SAMPLE_ABOVE:
        # restarts only choose where to start: on a weighted sample of the shapes they cost a
        # few milliseconds each; the winner is then run to convergence on every shape
        rng = np.random.default_rng(np.random.SeedSequence([seed, _SAMPLE_STREAM]))
        sample = _Shapes(*dedupe(wh[_sample_many(wt, _SAMPLE_SIZE, rng)]))
        if len(sample) < k:
            sample = shapes

    runs = []
    for st in streams:
        init = _kmeanspp(sample, k, np.random.default_rng(st))
        runs.append(_lloyd(sample, init, median=median, max_iter=max_iter))
        if progress is not None:
            progress(1)
        if _settled([r[1] for r in runs]):
            if progress is not None and len(runs) < restarts:
                progress(restarts - len(runs))
            break
    if sample is not shapes:
        start = runs[int(np.argmax([r[1] for r in runs]))][0]
        polished = _lloyd(shapes, start, median=median, max_iter=max_iter)
        # the sample's scores chose the start; the result is that start run on every shape
        ran = len(runs)
        sample_ious = [r[1] for r in runs]
        runs = [polished]
    else:
        ran, sample_ious = len(runs), []
    iters = [r[2] for r in runs]
    conv = [r[3] for r in runs]
    ious = [r[1] for r in runs]
    best = runs[int(np.argmax(ious))][0]  # first of equals
    anchors = best[np.argsort(best[:, 0] * best[:, 1], kind="stable")]
    _, assign, score = _assign_all(shapes, anchors, second=False)
    members = np.bincount(assign, weights=wt, minlength=k).round().astype(np.int64)
    return Clusters(anchors, score_weighted(score, wt), members, iters, conv, ious, ran, sample_ious)


def score_weighted(best_iou: np.ndarray, wt: np.ndarray) -> float:
    # numpy's own pairwise sum, not a BLAS dot: the result must not depend on how many threads
    # the BLAS library runs (its dot splits long vectors between them)
    return float((best_iou.astype(np.float64) * wt).sum() / wt.sum())


# --------------------------------------------------------------------------------------------
# internals: distinct shapes as contiguous float32 columns; centroids in float64


class _Shapes:
    """Distinct box shapes, their counts and the per-shape sums k-means keeps reusing."""

    def __init__(self, wh: np.ndarray, wt: np.ndarray):
        self.w = np.ascontiguousarray(wh[:, 0], dtype=np.float32)
        self.h = np.ascontiguousarray(wh[:, 1], dtype=np.float32)
        self.area = self.w * self.h
        self.wt = np.asarray(wt, dtype=np.float64)
        self.wt_w = self.wt * self.w
        self.wt_h = self.wt * self.h

    def __len__(self) -> int:
        return len(self.w)

    def take(self, idx: np.ndarray) -> "_Shapes":
        """The shapes at `idx`, for IoU work only (weights are left out)."""
        sub = _Shapes.__new__(_Shapes)
        for name in ("w", "h", "area"):
            setattr(sub, name, getattr(self, name)[idx])
        return sub

    def wh(self, i: int) -> np.ndarray:
        return np.array([self.w[i], self.h[i]], dtype=np.float64)


def _iou_one(s: _Shapes, c: np.ndarray, out: np.ndarray | None = None,
             tmp: np.ndarray | None = None) -> np.ndarray:
    """IoU of every shape with one anchor, float32, with no (n, k) temporaries."""
    cw, ch = np.float32(c[0]), np.float32(c[1])
    inter = np.minimum(s.w, cw, out=out)
    other = np.minimum(s.h, ch, out=tmp)
    inter *= other
    union = np.add(s.area, cw * ch, out=other)
    union -= inter
    inter /= union
    return inter


def _assign_all(s: _Shapes, cents: np.ndarray, second: bool = True
                ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(second best IoU or None, best anchor, best IoU) of every shape; ties go to the lower
    index. Tracking the runner-up costs two of the ~eleven passes per anchor, so it is optional."""
    n = len(s)
    first = _iou_one(s, cents[0])
    a = np.zeros(n, np.intp)
    runner_up = np.full(n, -1.0, np.float32) if second else None
    x = np.empty(n, np.float32)
    lo = np.empty(n, np.float32)
    better = np.empty(n, bool)
    for j in range(1, len(cents)):
        _iou_one(s, cents[j], out=x, tmp=lo)
        np.greater(x, first, out=better)
        if runner_up is not None:
            np.minimum(x, first, out=lo)
            np.maximum(runner_up, lo, out=runner_up)
        np.maximum(first, x, out=first)
        np.copyto(a, j, where=better)
    return runner_up, a, first


# Restarts on more distinct shapes than this run on a weighted sample of _SAMPLE_SIZE draws.
_SAMPLE_ABOVE = 1 << 13
_SAMPLE_SIZE = 1 << 12
_SAMPLE_STREAM = 0x5EED  # the sample's own random stream, apart from the restarts'
# Restarts stop once the best average IoU has been reached this many times (same optimum).
_SETTLE_HITS = 3
_SETTLE_TOL = 1e-6


def _settled(ious: list[float]) -> bool:
    """Whether the restarts so far found the best optimum often enough that more will not help."""
    best = max(ious)
    return sum(1 for v in ious if v >= best - _SETTLE_TOL) >= _SETTLE_HITS


def _sample_many(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indexes drawn with replacement, with probability proportional to `weights`."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def _kmeanspp(s: _Shapes, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with D(x)^2 = (1 - best IoU)^2, each distinct shape weighted by count."""
    n = len(s)
    first = _sample(s.wt, rng)
    cents = [s.wh(first)]
    dist = 1.0 - _iou_one(s, cents[0])
    chosen = {first}
    for _ in range(1, k):
        d2 = dist.astype(np.float64)
        d2 *= d2
        d2 *= s.wt
        total = d2.sum()
        if total <= 0:  # every shape already coincides with a centroid
            rest = np.setdiff1d(np.arange(n), np.fromiter(chosen, np.intp))
            nxt = int(rng.choice(rest))
        else:
            nxt = _sample(d2, rng)
        chosen.add(nxt)
        cents.append(s.wh(nxt))
        np.minimum(dist, 1.0 - _iou_one(s, cents[-1]), out=dist)
    return np.array(cents)


def _sample(weights: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with probability proportional to `weights` (one cumsum, one search)."""
    cdf = np.cumsum(weights)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def _pair_dist(cents: np.ndarray) -> np.ndarray:
    d = 1.0 - iou_wh(cents, cents)
    np.fill_diagonal(d, np.inf)
    return d


def _weighted_median(v: np.ndarray, wt: np.ndarray, a: np.ndarray, k: int) -> np.ndarray:
    """Per cluster, the smallest member value at which the cumulative weight reaches half."""
    order = np.lexsort((v, a))
    a_s, v_s, w_s = a[order], v[order], wt[order]
    cum = np.cumsum(w_s)
    mass = np.bincount(a_s, weights=w_s, minlength=k)
    start = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
    hit = np.flatnonzero(cum >= start[a_s] + mass[a_s] / 2.0)
    out = np.full(k, np.nan)
    clusters, first = np.unique(a_s[hit], return_index=True)
    out[clusters] = v_s[hit[first]]
    return out


class _Sums:
    """Per-cluster weight and weighted sums of w and h, updated only for boxes that move."""

    def __init__(self, s: _Shapes, a: np.ndarray, k: int):
        self.k = k
        self.mass = np.bincount(a, weights=s.wt, minlength=k)
        self.sw = np.bincount(a, weights=s.wt_w, minlength=k)
        self.sh = np.bincount(a, weights=s.wt_h, minlength=k)

    def move(self, s: _Shapes, idx: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        for total, col in ((self.mass, s.wt), (self.sw, s.wt_w), (self.sh, s.wt_h)):
            vals = col[idx]
            total -= np.bincount(old, weights=vals, minlength=self.k)
            total += np.bincount(new, weights=vals, minlength=self.k)

    def centroids(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            cents = np.stack([self.sw / self.mass, self.sh / self.mass], axis=1)
        cents[self.mass < 0.5] = np.nan  # weights are counts: a cluster is empty or weighs >= 1
        return cents


def _lloyd(
    s: _Shapes, cents: np.ndarray, *, median: bool, max_iter: int
) -> tuple[np.ndarray, float, int, bool]:
    """Lloyd iterations; once few boxes still move, with Hamerly-style bounds (d = 1 - IoU).

    While many boxes change anchor every round, each round is a plain full assignment. After
    that, every box keeps u >= d(box, its centroid) and l <= d(box, any other centroid) from the
    last time it was looked at. A box cannot change anchor while u <= max(l, half the distance
    from its centroid to the nearest other one). Each round moves every centroid by at most M
    (the largest move), which can raise u and lower l and the half-distance by M each, so a box
    only needs another look once the moves summed since its last look reach half its margin:
    a round costs one comparison per box plus exact IoUs for the few boxes that are due.
    """
    k = len(cents)
    n = len(s)
    _, a, _ = _assign_all(s, cents, second=False)
    sums = _Sums(s, a, k)
    moved_last = n
    bounded = False
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        if median:
            new = np.stack([_weighted_median(v, s.wt, a, k) for v in (s.w, s.h)], axis=1)
        else:
            new = sums.centroids()
        empty = np.flatnonzero(np.isnan(new[:, 0]))
        if len(empty):  # re-seeded centroids may land anywhere: start afresh
            new = _reseed(s, new, empty)
            bounded = False
        if not bounded:
            cents = new
            # the runner-up is needed only to start the bounds, i.e. once few boxes still move
            want = len(empty) == 0 and moved_last < _RUNNER_UP_BELOW * n
            second, a_new, first = _assign_all(s, cents, second=want)
            moved = np.flatnonzero(a_new != a)
            if len(moved) == 0:
                converged = True
                break
            if len(empty):
                sums = _Sums(s, a_new, k)
            elif not median:
                sums.move(s, moved, np.take(a, moved), np.take(a_new, moved))
            a = a_new
            moved_last = len(moved)
            if second is not None and len(moved) < _BOUNDED_BELOW * n:  # switch: bounds from here
                bounded = True
                u0 = 1.0 - first
                l0 = 1.0 - second
                total = 0.0                        # sum of the largest moves so far
                seen = np.zeros(n)                 # `total` when each box was last looked at
                half = _half_gap(cents)
                due = (np.maximum(np.take(half, a), l0) - u0) * 0.5
            continue
        move = 1.0 - np.diagonal(iou_wh(cents, new)) + _SLACK
        cents = new
        total += float(move.max())
        half = _half_gap(cents)
        look = np.flatnonzero(due <= total)
        if len(look) == 0:
            converged = True
            break
        sub = s.take(look)
        a_old = np.take(a, look)
        u_c = 1.0 - _iou_one(sub, cents[a_old].T)
        l_c = np.take(l0, look) - (total - np.take(seen, look)).astype(np.float32)
        z_c = np.maximum(np.take(half, a_old), l_c)
        safe = u_c <= z_c
        u0[look], l0[look], seen[look] = u_c, l_c, total
        due[look] = total + (z_c - u_c) * 0.5
        redo = look[~safe]
        if len(redo) == 0:
            converged = True
            break
        sec, a_c, fst = _assign_all(sub.take(~safe), cents)
        a_prev = a_old[~safe]
        # a tie keeps the current anchor, so rounding cannot make boxes flip back and forth
        stay = (1.0 - fst) >= u_c[~safe]
        a_c = np.where(stay, a_prev, a_c)
        u_r = np.where(stay, u_c[~safe], 1.0 - fst)
        l_r = 1.0 - sec
        u0[redo], l0[redo] = u_r, l_r
        due[redo] = total + (np.maximum(np.take(half, a_c), l_r) - u_r) * 0.5
        moved = np.flatnonzero(a_c != a_prev)
        if len(moved) == 0:
            converged = True
            break
        a[redo] = a_c
        if not median:
            sums.move(s, redo[moved], a_prev[moved], a_c[moved])
    _, _, first = _assign_all(s, cents, second=False)
    return cents, score_weighted(first, s.wt), it, converged


def _half_gap(cents: np.ndarray) -> np.ndarray:
    """Half the distance from each centroid to its nearest other centroid (inf when k = 1)."""
    if len(cents) == 1:
        return np.array([np.inf], np.float32)
    return (0.5 * _pair_dist(cents).min(axis=1)).astype(np.float32)


def _reseed(s: _Shapes, cents: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Put each empty cluster's centroid on a box that fits the remaining centroids worst."""
    cents = cents.copy()
    live = np.setdiff1d(np.arange(len(cents)), empty)
    _, _, fit = _assign_all(s, cents[live], second=False)
    worst = np.argsort(fit, kind="stable")[: len(empty)]
    cents[empty] = np.stack([s.w[worst], s.h[worst]], axis=1)
    return cents


# --------------------------------------------------------------------------------------------
# k sweep and its knee


@dataclass
class Sweep:
    ks: list[int]
    ious: list[float]
    results: list[Clusters]
    knee: int

    @property
    def knee_result(self) -> Clusters:
        return self.results[self.ks.index(self.knee)]


def knee_point(ks: Sequence[int], ious: Sequence[float]) -> int:
    """The k where the avg-IoU curve bends most: the point farthest above the chord from the
    first to the last point, both axes scaled to [0, 1] (the Kneedle rule for a concave,
    increasing curve). Ties go to the smaller k."""
    x = np.asarray(ks, dtype=np.float64)
    y = np.asarray(ious, dtype=np.float64)
    if len(x) < 3:
        return int(x[-1]) if len(x) else 0
    xn = (x - x[0]) / (x[-1] - x[0])
    span = y[-1] - y[0]
    if span <= 0:
        return int(x[0])
    yn = (y - y[0]) / span
    return int(x[int(np.argmax(yn - xn))])


def sweep(
    boxes: np.ndarray,
    ks: Sequence[int],
    *,
    restarts: int = 10,
    seed: int = 0,
    median: bool = False,
    max_iter: int = 300,
    progress: Callable[[int], None] | None = None,
) -> Sweep:
    """k-means for every k in `ks` (same seed for each) and the knee of avg IoU against k."""
    ks = sorted(set(int(k) for k in ks))
    if not ks:
        raise UsageError("the sweep needs at least one k")
    wh, wt = dedupe(boxes)
    if ks[-1] > len(wh):
        raise UsageError(
            f"the sweep goes up to k={ks[-1]} but the labels hold only {len(wh)} distinct box shapes"
        )
    results = [
        kmeans_anchors(wh, k, restarts=restarts, seed=seed, median=median, max_iter=max_iter,
                       weights=wt, progress=progress)
        for k in ks
    ]
    ious = [r.avg_iou for r in results]
    return Sweep(ks, ious, results, knee_point(ks, ious))
