"""Darknet's `do_nms_sort` on one image: the block-vectorised `darkpy.boxes.nms_sort` against the
per-box loop it replaced (kept below as the baseline), in the same run, with the results checked
equal. Cases: YOLOv2-VOC/COCO-sized outputs (845 boxes = 13x13x5) with 80 classes: every box a
candidate for every class, all overlapping; the same with no two boxes overlapping (every
candidate survives: the loop's worst case); random boxes; and a sparse case like `detect` at
thresh .5.

Timed as process CPU time on one torch thread (best of several runs): on a shared machine wall
time mostly measures the neighbours.

    python benchmarks/bench_nms.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from darkpy.boxes import box_iou, nms_sort  # noqa: E402


# -- the baseline: the per-box loop darkpy used before, with the IoU it used -----------------------

def old_box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = a[:, None, :]
    b = b[None, :, :]
    left = torch.maximum(a[..., 0] - a[..., 2] / 2, b[..., 0] - b[..., 2] / 2)
    right = torch.minimum(a[..., 0] + a[..., 2] / 2, b[..., 0] + b[..., 2] / 2)
    top = torch.maximum(a[..., 1] - a[..., 3] / 2, b[..., 1] - b[..., 3] / 2)
    bottom = torch.minimum(a[..., 1] + a[..., 3] / 2, b[..., 1] + b[..., 3] / 2)
    ow, oh = right - left, bottom - top
    inter = torch.where((ow < 0) | (oh < 0), torch.zeros_like(ow), ow * oh)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return inter / union


def _loop_greedy(over: np.ndarray, order: np.ndarray) -> np.ndarray:
    n = len(order)
    alive = np.ones(n, dtype=bool)
    for i in range(n - 1):
        if alive[i]:
            alive[i + 1:] &= ~over[order[i], order[i + 1:]]
    return alive


def loop_nms_sort(boxes, objectness, probs, thresh):
    probs = probs.clone()
    live = (objectness != 0) & (probs > 0).any(dim=1)
    idx = torch.nonzero(live).flatten()
    if idx.numel() < 2:
        return probs
    over = (old_box_iou(boxes[idx], boxes[idx]) > thresh).cpu().numpy()
    sub = probs[idx].cpu()
    for k in torch.nonzero((sub > 0).any(dim=0)).flatten().tolist():
        col = sub[:, k]
        cand = torch.nonzero(col > 0).flatten()
        if cand.numel() < 2:
            continue
        order = cand[torch.argsort(col[cand], descending=True, stable=True)].numpy()
        keep = _loop_greedy(over, order)
        sub[order[~keep], k] = 0
    probs[idx] = sub
    return probs


# -- cases ------------------------------------------------------------------------------------

def case(kind: str, n: int = 845, classes: int = 80, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if kind == "all overlapping":
        boxes = torch.tensor([0.5, 0.5, 0.4, 0.4]) + 0.005 * torch.rand(n, 4, generator=g)
        probs = 0.01 + torch.rand(n, classes, generator=g)
    elif kind == "disjoint":  # nothing overlaps: every candidate survives (the loop's worst case)
        side = int(np.ceil(np.sqrt(n)))
        i = torch.arange(n, dtype=torch.float32)
        boxes = torch.stack([(i % side + 0.5) / side, (i // side + 0.5) / side,
                             torch.full((n,), 0.5 / side), torch.full((n,), 0.5 / side)], 1)
        probs = 0.01 + torch.rand(n, classes, generator=g)
    elif kind == "random boxes":
        boxes = torch.cat([torch.rand(n, 2, generator=g), 0.05 + 0.3 * torch.rand(n, 2, generator=g)], 1)
        probs = 0.01 + torch.rand(n, classes, generator=g)
    else:  # sparse: a handful of candidates per class
        boxes = torch.cat([torch.rand(n, 2, generator=g), 0.05 + 0.3 * torch.rand(n, 2, generator=g)], 1)
        probs = torch.rand(n, classes, generator=g)
        probs = torch.where(probs > 0.995, probs, torch.zeros(()))
    objectness = torch.ones(n)
    return boxes, objectness, probs


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; 845 boxes x 80 classes, IoU .45")
    for kind in ("all overlapping", "disjoint", "random boxes", "sparse"):
        boxes, obj, probs = case(kind)
        old = loop_nms_sort(boxes, obj, probs, 0.45)
        new = nms_sort(boxes, obj, probs, 0.45)
        assert torch.equal(old, new), f"{kind}: results differ"
        assert torch.equal(old_box_iou(boxes, boxes), box_iou(boxes, boxes)), f"{kind}: IoU bits differ"
        t_old = best(lambda: loop_nms_sort(boxes, obj, probs, 0.45), 5)
        t_new = best(lambda: nms_sort(boxes, obj, probs, 0.45), 5)
        print(f"{kind:16s}: loop {t_old * 1e3:8.1f} ms   vectorised {t_new * 1e3:7.1f} ms   "
              f"ratio {t_old / t_new:6.1f}x   (kept {int((new > 0).sum())} of {int((probs > 0).sum())})")


if __name__ == "__main__":
    main()
