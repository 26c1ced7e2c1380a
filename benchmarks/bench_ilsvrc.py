"""ILSVRC DET scoring (`darkpy map --metric ilsvrc`) against a devkit-style loop.

Baseline, measured in the same run on a subset and scaled: the challenge devkit's structure,
one detection at a time in score order, scanning the boxes of its image. Usage:
python benchmarks/bench_ilsvrc.py [--images N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from darkpy.eval import Detections, GroundTruth, evaluate  # noqa: E402


def make_data(images: int, classes: int = 200, dets_per_image: int = 100, seed: int = 0):
    """ImageNet-DET-like: 1-6 boxes per image, sizes 8-300 px; most detections jitter around a
    box of their class (as a detector's many overlapping boxes at a low threshold do)."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 7, images)
    g_img = np.repeat(np.arange(images), per)
    n = len(g_img)
    g_cls = rng.integers(0, classes, n)
    xy = rng.uniform(0, 300, (n, 2))
    g_box = np.hstack([xy, xy + rng.uniform(8, 300, (n, 2))])
    d_img = np.repeat(np.arange(images), dets_per_image)
    m = len(d_img)
    starts = np.r_[0, np.cumsum(per)[:-1]]
    pick = starts[d_img] + (rng.integers(0, 1 << 30, m) % per[d_img])
    near = rng.random(m) < 0.7
    d_cls = np.where(near, g_cls[pick], rng.integers(0, classes, m))
    scale = (g_box[pick, 2:] - g_box[pick, :2]).repeat(2, axis=1) * 0.15
    d_box = g_box[pick] + rng.normal(0, 1, (m, 4)) * scale
    names = [f"c{i}" for i in range(classes)]
    gt = GroundTruth(names, [f"im{i}" for i in range(images)], g_img, g_cls, g_box)
    dets = Detections(np.array([f"im{i}" for i in d_img], object), d_cls, rng.random(m), d_box)
    return dets, gt


def devkit_loop(dets, gt) -> int:
    index = gt.index_of()
    d_img = np.array([index[k] for k in dets.image])
    matches = 0
    for c in range(len(gt.names)):
        rows = np.flatnonzero(dets.cls == c)
        rows = rows[np.argsort(-dets.score[rows], kind="stable")]
        boxes: dict[int, list[int]] = {}
        for j in np.flatnonzero(gt.cls == c):
            boxes.setdefault(int(gt.image[j]), []).append(int(j))
        taken: set[int] = set()
        for i in rows:
            b = dets.box[i]
            best, arg = -1.0, -1
            for j in boxes.get(int(d_img[i]), ()):
                if j in taken:
                    continue
                g = gt.box[j]
                w, h = g[2] - g[0] + 1, g[3] - g[1] + 1
                iw = min(b[2], g[2]) - max(b[0], g[0]) + 1
                ih = min(b[3], g[3]) - max(b[1], g[1]) + 1
                if iw > 0 and ih > 0:
                    ov = iw * ih / ((b[2] - b[0] + 1) * (b[3] - b[1] + 1) + w * h - iw * ih)
                    if ov >= min(0.5, w * h / ((w + 10) * (h + 10))) and ov > best:
                        best, arg = ov, j
            if arg >= 0:
                taken.add(arg)
                matches += 1
    return matches


def main() -> None:
    from darkpy.eval.ilsvrc import ilsvrc_evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    args = ap.parse_args()
    dets, gt = make_data(args.images)
    print(f"{args.images} images, {len(dets)} detections, {len(gt)} boxes, {len(gt.names)} classes")
    index = gt.index_of()
    d_img = np.array([index[k] for k in dets.image])
    t0 = time.perf_counter()
    res = ilsvrc_evaluate(d_img, dets.cls, dets.score, dets.box, gt.image, gt.cls, gt.box, gt.difficult,
                          len(gt.images), len(gt.names))
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    matches = devkit_loop(dets, gt)
    base = time.perf_counter() - t0
    assert matches == int(res.tp.sum()), "the loop and darkpy disagree"
    print(f"darkpy ILSVRC matching + AP: {ours:.2f} s   devkit-style loop (matching only): {base:.2f} s")
    print(f"ratio darkpy / baseline: {ours / base:.3f}; both find {matches} true positives")
    report = evaluate(dets, gt, "ilsvrc")
    print(f"mAP ILSVRC {report.map_ilsvrc:.4f}")


if __name__ == "__main__":
    main()
