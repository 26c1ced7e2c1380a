"""Box arithmetic, once, for detection, training, evaluation, anchors and recall.

Darknet keeps boxes as centre x, y, width, height (relative to the image or in pixels);
evaluation files use corners x1 y1 x2 y2. The functions here are small, pure and vectorised;
the centre/corner conversions and `iou_cwh` take numpy arrays or torch tensors alike.

- `iou_cwh` / `box_iou`: Darknet's `box_iou` (src/box.c): the intersection comes from the
  overlap of the two extents and is zero when either overlap is negative. `iou_cwh` broadcasts
  over separate components (the region loss), `box_iou` gives the (N, M) matrix of two box sets.
- `wh_iou`: IoU of centre-aligned shapes (anchors: k-means clusters on 1 - IoU).
- `voc_iou` / `coco_iou`: the two evaluation conventions on corner boxes (VOC's +1 pixel widths;
  COCO's plain widths, crowd boxes scored against the detection's own area).
- `nms_sort`: Darknet's `do_nms_sort`; `nms_obj`: Darknet's `do_nms_obj` (recall). Both use
  `greedy_keep`, an exact greedy NMS with no loop over boxes: it walks the boxes in blocks of
  64 (in score order, every class at once); a block is first cleared by the boxes already kept,
  then settled inside by a fixed-point iteration (each pass is one matrix operation; a box's fate
  depends only on the boxes ranked above it, so the answer is exact, and it usually settles in
  two or three passes). Candidates overlapping no other candidate of their class are settled
  first, by one matrix product.

numpy-only callers (evaluating result files, anchors) must not pay for importing torch, so torch
is imported by the functions that work on tensors, and arrays are told apart by their type's module.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NMS_BLOCK = 64
_IOU_ROWS = 128


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


def _cat(parts, like):
    if _is_tensor(like):
        import torch

        return torch.cat(parts, -1)
    return np.concatenate(parts, -1)


def center_to_corners(box):
    """(..., 4) x, y, w, h -> x1, y1, x2, y2 (numpy arrays are computed in float64)."""
    if not _is_tensor(box):
        box = np.asarray(box, np.float64)
    half = box[..., 2:] / 2.0
    return _cat([box[..., :2] - half, box[..., :2] + half], box)


def corners_to_center(box):
    """(..., 4) x1, y1, x2, y2 -> x, y, w, h (numpy arrays are computed in float64)."""
    if not _is_tensor(box):
        box = np.asarray(box, np.float64)
    size = box[..., 2:] - box[..., :2]
    return _cat([box[..., :2] + size / 2.0, size], box)


def iou_cwh(ax, ay, aw, ah, bx, by, bw, bh):
    """Darknet's `box_iou` on centre/size components, broadcasting (tensors, autograd included,
    or arrays)."""
    if _is_tensor(ax):
        import torch

        w = torch.minimum(ax + aw / 2, bx + bw / 2) - torch.maximum(ax - aw / 2, bx - bw / 2)
        h = torch.minimum(ay + ah / 2, by + bh / 2) - torch.maximum(ay - ah / 2, by - bh / 2)
        inter = torch.where((w < 0) | (h < 0), torch.zeros_like(w), w * h)
    else:
        w = np.minimum(ax + aw / 2, bx + bw / 2) - np.maximum(ax - aw / 2, bx - bw / 2)
        h = np.minimum(ay + ah / 2, by + bh / 2) - np.maximum(ay - ah / 2, by - bh / 2)
        inter = np.where((w < 0) | (h < 0), 0.0, w * h)
    return inter / (aw * ah + bw * bh - inter)


def box_iou(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """Pairwise IoU of (N, 4) and (M, 4) centre-format boxes -> (N, M); the same arithmetic as
    `iou_cwh` (so the same bits), with the per-box terms computed once instead of per pair, and
    rows taken in slices so that the temporaries stay in the CPU's cache (2x faster at 845^2)."""
    import torch

    a_lo, a_hi = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b_lo, b_hi = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    a_area, b_area = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    out = torch.empty(a.shape[0], b.shape[0], dtype=torch.result_type(a, b), device=a.device)
    for i in range(0, a.shape[0], _IOU_ROWS):
        j = slice(i, i + _IOU_ROWS)
        ow = torch.minimum(a_hi[j, None, 0], b_hi[None, :, 0]) - torch.maximum(a_lo[j, None, 0], b_lo[None, :, 0])
        oh = torch.minimum(a_hi[j, None, 1], b_hi[None, :, 1]) - torch.maximum(a_lo[j, None, 1], b_lo[None, :, 1])
        inter = ow.clamp_(min=0) * oh.clamp_(min=0)  # zero when either overlap is negative
        union = a_area[j, None] + b_area[None, :] - inter
        torch.div(inter, union, out=out[j])
    return out


def wh_iou(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(n, k) IoU of every centre-aligned box with every anchor; both arrays are (·, 2) w, h."""
    boxes = np.asarray(boxes, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64)
    w, h = boxes[:, :1], boxes[:, 1:2]
    aw, ah = anchors[None, :, 0], anchors[None, :, 1]
    inter = np.minimum(w, aw) * np.minimum(h, ah)
    return inter / (w * h + aw * ah - inter)


def voc_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU with VOC's inclusive-pixel convention (+1 on widths), broadcasting (..., 4) corner boxes."""
    iw = np.maximum(np.minimum(det[..., 2], gt[..., 2]) - np.maximum(det[..., 0], gt[..., 0]) + 1.0, 0.0)
    ih = np.maximum(np.minimum(det[..., 3], gt[..., 3]) - np.maximum(det[..., 1], gt[..., 1]) + 1.0, 0.0)
    inter = iw * ih
    union = ((det[..., 2] - det[..., 0] + 1.0) * (det[..., 3] - det[..., 1] + 1.0)
             + (gt[..., 2] - gt[..., 0] + 1.0) * (gt[..., 3] - gt[..., 1] + 1.0) - inter)
    return inter / union


def coco_iou(det: np.ndarray, gt: np.ndarray, crowd: np.ndarray | bool = False) -> np.ndarray:
    """COCO's box IoU, broadcasting (..., 4) corner boxes; against a crowd box the union is the
    detection's own area. Widths are plain differences (no +1), as COCO's xywh boxes imply."""
    iw = np.minimum(det[..., 2], gt[..., 2]) - np.maximum(det[..., 0], gt[..., 0])
    ih = np.minimum(det[..., 3], gt[..., 3]) - np.maximum(det[..., 1], gt[..., 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    da = (det[..., 2] - det[..., 0]) * (det[..., 3] - det[..., 1])
    ga = (gt[..., 2] - gt[..., 0]) * (gt[..., 3] - gt[..., 1])
    union = np.where(crowd, da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / union
    return np.where(union > 0, out, 0.0)


# -- NMS -----------------------------------------------------------------------------------------

def greedy_keep(over: "torch.Tensor", scores: "torch.Tensor", block: int = NMS_BLOCK) -> "torch.Tensor":
    """Exact greedy NMS for several score columns at once.

    over: (n, n) bool, over[i, j] = IoU(i, j) > thresh (symmetric); scores: (C, n), 0 = not a
    candidate. For each row c, boxes are taken by decreasing score (ties: lower index first) and a
    surviving box suppresses every later candidate it overlaps; a suppressed box suppresses
    nothing (Darknet skips boxes whose probability it has zeroed). Returns keep (C, n) bool."""
    import torch

    c, n = scores.shape
    if n == 0 or c == 0:
        return torch.zeros(c, n, dtype=torch.bool, device=scores.device)
    cand = scores > 0
    if int(cand.sum(dim=1).max()) > block:
        # a candidate overlapping no other candidate of its class survives and suppresses nobody:
        # settled by one product, so that the blocks below only see boxes in contention
        over = over.clone()
        over.fill_diagonal_(False)
        lone = cand & ((cand.to(torch.float32) @ over.to(torch.float32)) == 0)
        scores = torch.where(lone, torch.zeros_like(scores), scores)
    else:
        lone = torch.zeros_like(cand)
    kept = torch.zeros_like(lone)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    cand_sorted = scores.gather(1, order) > 0
    m = int(cand_sorted.sum(dim=1).max())
    hits = torch.zeros(c, n, dtype=torch.float32, device=scores.device)  # kept boxes overlapping each box
    below = torch.ones(block, block, dtype=torch.bool, device=scores.device).tril(-1)  # [i, j]: j ranks above i
    for start in range(0, m, block):
        ids = order[:, start:start + block]                         # (C, b)
        alive = cand_sorted[:, start:start + block] & (hits.gather(1, ids) == 0)
        if not bool(alive.any()):
            continue
        b = ids.shape[1]
        # over[ids_i, ids_j] for j ranked above i, as 0/1 floats: a product counts i's suppressors
        inner = (over[ids[:, :, None], ids[:, None, :]] & below[:b, :b]).to(torch.float32)
        keep = alive
        for _ in range(b):
            new = alive & (torch.bmm(inner, keep.to(torch.float32)[:, :, None])[:, :, 0] == 0)
            if torch.equal(new, keep):
                break
            keep = new
        kept.scatter_(1, ids, keep)
        if start + block < m:  # the new keepers' overlaps, as one product over the boxes kept here
            rows, cols = torch.nonzero(keep, as_tuple=True)
            boxes_now, slot = torch.unique(ids[rows, cols], return_inverse=True)
            pick = torch.zeros(c, len(boxes_now), dtype=torch.float32, device=scores.device)
            pick[rows, slot] = 1
            hits += pick @ over[boxes_now].to(torch.float32)
    return kept | lone


def _greedy(over: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Keep-mask (numpy) of greedy NMS taking the boxes in `order` (all, by index, when None);
    over[i, j]: IoU(i, j) > thresh. Entry k of the result is box order[k]'s fate."""
    n = over.shape[0]
    order = np.arange(n) if order is None else np.asarray(order)
    scores = np.zeros(n, np.float64)
    scores[order] = np.arange(len(order), 0, -1)
    import torch

    keep = greedy_keep(torch.from_numpy(np.asarray(over, bool)), torch.from_numpy(scores)[None])[0]
    return keep.numpy()[order]


def nms_sort(boxes: "torch.Tensor", objectness: "torch.Tensor", probs: "torch.Tensor",
             thresh: float) -> "torch.Tensor":
    """Darknet's `do_nms_sort` for one image. boxes (M, 4) xywh, objectness (M,), probs (M, C).

    Boxes without objectness are set aside; then for every class the boxes are taken in
    decreasing order of that class's probability and each one still alive zeroes that class's
    probability in every later box overlapping it with IoU > `thresh`. Returns the probabilities
    with suppressed entries zeroed (a new tensor); boxes are not removed. `thresh <= 0` disables
    suppression. Darknet's qsort breaks ties in no fixed order; here the lower index goes first."""
    import torch

    probs = probs.clone()
    if thresh <= 0 or probs.numel() == 0:
        return probs
    live = (objectness != 0) & (probs > 0).any(dim=1)
    idx = torch.nonzero(live).flatten()
    if idx.numel() < 2:
        return probs
    sub = probs[idx]
    classes = torch.nonzero((sub > 0).sum(dim=0) > 1).flatten()  # a lone candidate always survives
    if classes.numel() == 0:
        return probs
    over = box_iou(boxes[idx], boxes[idx]) > thresh
    cols = sub[:, classes].t()
    keep = greedy_keep(over, cols)
    sub[:, classes] = torch.where(keep, cols, torch.zeros_like(cols)).t()
    probs[idx] = sub
    return probs


def nms_obj(boxes: "torch.Tensor", objectness: "torch.Tensor", thresh: float) -> "torch.Tensor":
    """Darknet's `do_nms_obj`: boxes by decreasing objectness; a live box zeroes the objectness of
    every later live box overlapping it with IoU > thresh. Returns the new objectness."""
    import torch

    obj = objectness.clone()
    if thresh <= 0:
        return obj
    idx = torch.nonzero(obj != 0).flatten()
    if idx.numel() < 2:
        return obj
    over = box_iou(boxes[idx], boxes[idx]) > thresh
    keep = greedy_keep(over, obj[idx][None])[0]
    obj[idx[~keep]] = 0
    return obj


def box_iou_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`box_iou` for numpy arrays (the same float arithmetic, in the arrays' dtype)."""
    a_lo, a_hi = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b_lo, b_hi = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    ow = np.minimum(a_hi[:, None, 0], b_hi[None, :, 0]) - np.maximum(a_lo[:, None, 0], b_lo[None, :, 0])
    oh = np.minimum(a_hi[:, None, 1], b_hi[None, :, 1]) - np.maximum(a_lo[:, None, 1], b_lo[None, :, 1])
    inter = np.maximum(ow, 0) * np.maximum(oh, 0)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / union


def nms_sort_numpy(boxes: np.ndarray, objectness: np.ndarray, probs: np.ndarray, thresh: float) -> np.ndarray:
    """`nms_sort` for numpy arrays, for the torch-free engine: the same candidates, order (ties:
    lower index first) and IoU arithmetic. The greedy walk loops over the candidates of each class
    that has more than one (a handful at detection thresholds)."""
    probs = probs.copy()
    if thresh <= 0 or probs.size == 0:
        return probs
    idx = np.flatnonzero((objectness != 0) & (probs > 0).any(axis=1))
    if idx.size < 2:
        return probs
    sub = probs[idx]
    classes = np.flatnonzero((sub > 0).sum(axis=0) > 1)
    if classes.size == 0:
        return probs
    over = box_iou_numpy(boxes[idx], boxes[idx]) > thresh
    np.fill_diagonal(over, False)
    for c in classes.tolist():
        col = sub[:, c]
        order = np.argsort(-col, kind="stable")
        removed = np.zeros(len(col), bool)
        for i in order[:int((col > 0).sum())].tolist():
            if not removed[i]:
                removed |= over[i]
        col[removed] = 0
    probs[idx] = sub
    return probs
