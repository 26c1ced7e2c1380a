"""Benchmark: `darkpy kmeans` clustering of 1,000,000 boxes, k = 5, 10 restarts.

Prints seconds for darkpy's implementation (dedupe + float32 + Hamerly bounds) and for a
straightforward numpy k-means (full (n, k) IoU matrix every round) measured in the same run on
the same boxes, and the ratio. Target: darkpy under 5 s on 2 CPU cores.

    python benchmarks/bench_kmeans.py [--n 1000000] [--k 5] [--restarts 10] [--baseline-restarts 10]

Boxes look like a real label set: pixel-sized boxes (integers) in images of a few common sizes,
written as normalised floats, drawn from a handful of shape families (so duplicates exist, as in
real data, but most shapes are distinct).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from darkpy.anchors.kmeans import avg_iou, kmeans_anchors  # noqa: E402
from tests.anchors.kmeans_reference import kmeans_reference  # noqa: E402


def make_boxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = np.array([[500, 375], [640, 480], [640, 427], [1280, 720], [416, 416]], np.float64)
    img = sizes[rng.integers(0, len(sizes), n)]
    fam = np.array([[0.04, 0.06], [0.1, 0.25], [0.25, 0.15], [0.4, 0.55], [0.8, 0.7], [0.2, 0.4]])
    rel = fam[rng.integers(0, len(fam), n)] * np.exp(rng.normal(0.0, 0.35, (n, 2)))
    px = np.clip(np.round(rel * img), 1, img)
    return (px / img).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--restarts", type=int, default=10)
    ap.add_argument("--baseline-restarts", type=int, default=2,
                    help="restarts for the straightforward version, whose time is scaled to --restarts "
                         "(it takes ~15 s per restart on 1M boxes; 10 would take minutes)")
    args = ap.parse_args()
    boxes = make_boxes(args.n)
    print(f"{args.n:,} boxes, k={args.k}, {args.restarts} restarts, "
          f"{len(np.unique(boxes.view(np.uint64)))} distinct shapes, {os.cpu_count()} CPUs")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average before: {load:.2f} (timings are only meaningful on an otherwise idle machine)")

    t0, c0 = time.perf_counter(), time.process_time()
    res = kmeans_anchors(boxes, args.k, restarts=args.restarts, seed=0)
    t_fast, c_fast = time.perf_counter() - t0, time.process_time() - c0
    print(f"darkpy:          {t_fast:7.2f} s wall  {c_fast:7.2f} s CPU   avg IoU {res.avg_iou:.4f}   "
          f"iterations {res.iterations}")

    t0, c0 = time.perf_counter(), time.process_time()
    anchors, score = kmeans_reference(boxes, args.k, restarts=args.baseline_restarts, seed=0)
    scale = args.restarts / args.baseline_restarts
    t_ref, c_ref = (time.perf_counter() - t0) * scale, (time.process_time() - c0) * scale
    print(f"straightforward: {t_ref:7.2f} s wall  {c_ref:7.2f} s CPU   avg IoU {score:.4f}"
          + ("" if args.baseline_restarts == args.restarts else f"   (scaled from {args.baseline_restarts} restarts)"))
    print(f"speed-up: {t_ref / t_fast:.1f}x wall, {c_ref / c_fast:.1f}x CPU   "
          f"target 1M boxes x {args.restarts} restarts < 5 s: {'met' if t_fast < 5 else 'NOT met'}")
    assert abs(avg_iou(boxes, res.anchors) - res.avg_iou) < 1e-4


if __name__ == "__main__":
    main()
