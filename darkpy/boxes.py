"""Boxes as Darknet handles them: centre x, y, width, height (relative or in pixels).

`box_iou` follows src/box.c (intersection from the overlap of the two extents, zero when either
overlap is negative). `nms_sort` is Darknet's `do_nms_sort`: boxes without objectness are set
aside, then for every class the boxes are taken in decreasing order of that class's probability
and each one still alive zeroes that class's probability in every later box overlapping it with
IoU > `thresh`. Probabilities are changed, boxes are not removed.
"""
from __future__ import annotations

import numpy as np
import torch


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of (N, 4) and (M, 4) centre-format boxes -> (N, M)."""
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


def _greedy(over: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Keep-mask of greedy NMS. `order`: candidate indices into `over` sorted best first (all of
    `over`, in order, when None); over[i, j]: IoU(i, j) > thresh. Only surviving boxes cost a
    vector operation, so a class with many weak candidates stays cheap."""
    if order is None:
        order = np.arange(over.shape[0])
    n = len(order)
    alive = np.ones(n, dtype=bool)
    for i in range(n - 1):
        if alive[i]:
            alive[i + 1:] &= ~over[order[i], order[i + 1:]]
    return alive


def nms_sort(boxes: torch.Tensor, objectness: torch.Tensor, probs: torch.Tensor,
             thresh: float) -> torch.Tensor:
    """Darknet's `do_nms_sort` for one image. boxes (M, 4) xywh, objectness (M,), probs (M, C).

    Returns the probabilities with suppressed entries zeroed (a new tensor). Boxes whose
    objectness is 0 keep their (zero) probabilities. `thresh <= 0` disables suppression."""
    probs = probs.clone()
    if thresh <= 0 or probs.numel() == 0:
        return probs
    live = (objectness != 0) & (probs > 0).any(dim=1)
    idx = torch.nonzero(live).flatten()
    if idx.numel() < 2:
        return probs
    over = (box_iou(boxes[idx], boxes[idx]) > thresh).cpu().numpy()
    sub = probs[idx].cpu()
    for k in torch.nonzero((sub > 0).any(dim=0)).flatten().tolist():
        col = sub[:, k]
        cand = torch.nonzero(col > 0).flatten()
        if cand.numel() < 2:
            continue
        order = cand[torch.argsort(col[cand], descending=True, stable=True)].numpy()
        keep = _greedy(over, order)
        dead = order[~keep]
        sub[dead, k] = 0
    probs[idx] = sub.to(probs.device)
    return probs


def nms_obj(boxes: torch.Tensor, objectness: torch.Tensor, thresh: float) -> torch.Tensor:
    """Darknet's `do_nms_obj`: boxes by decreasing objectness; a live box zeroes the objectness of
    every later live box overlapping it with IoU > thresh. Returns the new objectness."""
    obj = objectness.clone()
    if thresh <= 0:
        return obj
    idx = torch.nonzero(obj != 0).flatten()
    if idx.numel() < 2:
        return obj
    order = idx[torch.argsort(obj[idx], descending=True, stable=True)]
    over = (box_iou(boxes[order], boxes[order]) > thresh).cpu().numpy()
    keep = _greedy(over)
    obj[order[torch.from_numpy(~keep)]] = 0
    return obj
