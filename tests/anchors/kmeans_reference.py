"""The obvious k-means over box shapes: the oracle `darkpy.anchors.kmeans_anchors` is tested
against, and the baseline `benchmarks/bench_kmeans.py` measures it against."""
from __future__ import annotations

import numpy as np

from darkpy.boxes import wh_iou as iou_wh


def kmeans_reference(
    boxes: np.ndarray, k: int, *, restarts: int = 10, seed: int = 0, max_iter: int = 300
) -> tuple[np.ndarray, float]:
    """Straightforward numpy k-means (full (n, k) IoU matrix each round, no dedupe, no bounds)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    best = (-1.0, None)
    for _ in range(restarts):
        cents = boxes[rng.choice(len(boxes), 1)]
        while len(cents) < k:
            d = 1.0 - iou_wh(boxes, cents).max(axis=1)
            p = d ** 2
            cents = np.vstack([cents, boxes[rng.choice(len(boxes), p=p / p.sum())]])
        assign = None
        for _ in range(max_iter):
            new_assign = iou_wh(boxes, cents).argmax(axis=1)
            if assign is not None and np.array_equal(new_assign, assign):
                break
            assign = new_assign
            for j in range(k):
                members = boxes[assign == j]
                if len(members):
                    cents[j] = members.mean(axis=0)
        score = float(iou_wh(boxes, cents).max(axis=1).mean())
        if score > best[0]:
            best = (score, cents.copy())
    cents = best[1]
    return cents[np.argsort(cents[:, 0] * cents[:, 1])], best[0]
