"""How long COCO scoring takes at COCO val scale: 5,000 images, 100 detections each, ~7 boxes.

Prints darkpy's time and its ratio to a baseline measured in the same run: the per-image,
per-class Python matching loop that pycocotools runs (restated in `tests/eval/reference.py`
style, numpy IoU per group), timed on a slice of the images and scaled up linearly.
Usage: python benchmarks/bench_map.py [--images N] [--baseline-images N]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from darkpy.eval import Detections, GroundTruth, evaluate  # noqa: E402
from darkpy.boxes import coco_iou  # noqa: E402
from darkpy.eval.coco import AREA_RANGES, IOU_THRS  # noqa: E402


def make_data(images: int, classes: int = 80, dets_per_image: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_gt = rng.poisson(7, images)
    g_img = np.repeat(np.arange(images), n_gt)
    m = len(g_img)
    g_cls = rng.integers(0, classes, m)
    wh = np.exp(rng.uniform(np.log(8), np.log(400), (m, 2)))
    xy = rng.uniform(0, 640 - wh)
    g_box = np.concatenate([xy, xy + wh], 1)
    # per image: ~60% of detections jitter its boxes (duplicates included), the rest are strays
    d_img = np.repeat(np.arange(images), dets_per_image)
    n = len(d_img)
    starts = np.concatenate(([0], np.cumsum(n_gt)[:-1]))
    near = (rng.random(n) < 0.6) & (n_gt[d_img] > 0)
    src = starts[d_img] + (rng.random(n) * np.maximum(n_gt[d_img], 1)).astype(np.int64)
    src = np.minimum(src, m - 1)
    jitter = rng.normal(0, 0.12, (n, 4)) * np.tile(wh[src], 2)
    d_box = np.where(near[:, None], g_box[src] + jitter, 0.0)
    swh = np.exp(rng.uniform(np.log(8), np.log(300), (n, 2)))
    sxy = rng.uniform(0, 640 - swh)
    d_box = np.where(near[:, None], d_box, np.concatenate([sxy, sxy + swh], 1))
    d_box[:, 2:] = np.maximum(d_box[:, 2:], d_box[:, :2] + 1)
    d_cls = np.where(near & (rng.random(n) < 0.9), g_cls[src], rng.integers(0, classes, n))
    d_score = rng.random(n).round(3)
    names = [f"c{i}" for i in range(classes)]
    gt = GroundTruth(names, [f"im{i}" for i in range(images)], g_img, g_cls, g_box,
                     crowd=rng.random(m) < 0.01)
    dets = Detections(np.array([f"im{i}" for i in d_img], object), d_cls, d_score, d_box)
    return dets, gt


def baseline_match(dets: Detections, gt: GroundTruth) -> int:
    """pycocotools' evaluateImg loop structure: per image and class, per area, per threshold."""
    index = gt.index_of()
    d_groups, g_groups = defaultdict(list), defaultdict(list)
    for i, (img, c) in enumerate(zip(dets.image, dets.cls)):
        d_groups[index[img], c].append(i)
    for j, (img, c) in enumerate(zip(gt.image, gt.cls)):
        g_groups[img, c].append(j)
    ranges = list(AREA_RANGES.values())
    matches = 0
    for key in set(d_groups) | set(g_groups):
        di = np.array(d_groups.get(key, []), np.int64)
        gi = np.array(g_groups.get(key, []), np.int64)
        di = di[np.argsort(-dets.score[di], kind="mergesort")][:100]
        ious = coco_iou(dets.box[di][:, None], gt.box[gi][None], gt.crowd[gi][None]) if len(gi) else None
        for lo, hi in ranges:
            g_ig = gt.crowd[gi] | (gt.area[gi] < lo) | (gt.area[gi] > hi)
            order = np.argsort(g_ig, kind="mergesort")
            for t in IOU_THRS:
                taken = np.zeros(len(gi), bool)
                for d in range(len(di)):
                    best, m = min(t, 1 - 1e-10), -1
                    for g in order:
                        if taken[g] and not gt.crowd[gi[g]]:
                            continue
                        if m > -1 and not g_ig[m] and g_ig[g]:
                            break
                        if ious[d, g] < best:
                            continue
                        best, m = ious[d, g], g
                    if m > -1:
                        taken[m] = True
                        matches += 1
    return matches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--baseline-images", type=int, default=250)
    args = ap.parse_args()
    dets, gt = make_data(args.images)
    print(f"{args.images} images, {len(dets)} detections, {len(gt)} boxes, {len(gt.names)} classes")
    t0 = time.perf_counter()
    report = evaluate(dets, gt, "coco")
    ours = time.perf_counter() - t0
    print(f"darkpy COCO scoring: {ours:.2f} s (AP {report.coco.stats['AP']:.4f})")
    small_dets, small_gt = make_data(args.baseline_images, seed=1)
    t0 = time.perf_counter()
    baseline_match(small_dets, small_gt)
    base = (time.perf_counter() - t0) * args.images / args.baseline_images
    print(f"baseline (pycocotools-style loops, matching only, {args.baseline_images} images scaled x"
          f"{args.images / args.baseline_images:g}): {base:.1f} s")
    print(f"ratio darkpy / baseline: {ours / base:.3f} ({base / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
