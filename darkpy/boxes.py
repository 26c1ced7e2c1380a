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

numpy-only callers (evaluating result files, anchors, the torch-free detection engine) must not
pay for importing torch, so torch is imported by the functions that work on tensors, and arrays
are told apart by their type's module. The `xp_*` helpers are the few operations the detection
maths (here and in darkpy.detect.decode) needs on both, so that it is written once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NMS_BLOCK = 64
_IOU_ROWS = 128


def is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


# -- one set of operations for numpy arrays and torch tensors ---------------------------------

def xp_float32(x):
    """x as float32 (no copy when it already is)."""
    return x.float() if is_tensor(x) else np.asarray(x).astype(np.float32, copy=False)


def xp_exp(x):
    if is_tensor(x):
        import torch

        return torch.exp(x)
    return np.exp(x)


def xp_stack(parts, axis: int):
    if is_tensor(parts[0]):
        import torch

        return torch.stack(parts, dim=axis)
    return np.stack(parts, axis=axis)


def xp_cat(parts, axis: int):
    if is_tensor(parts[0]):
        import torch

        return torch.cat(parts, dim=axis)
    return np.concatenate(parts, axis=axis)


def xp_permute(x, dims: tuple[int, ...]):
    return x.permute(*dims) if is_tensor(x) else x.transpose(dims)


def xp_arange(n: int, like):
    """0..n-1 in `like`'s float type and device."""
    if is_tensor(like):
        import torch

        return torch.arange(n, device=like.device, dtype=like.dtype)
    return np.arange(n, dtype=like.dtype)


def xp_ones(shape: tuple[int, ...], like):
    """Ones of `like`'s float type, on its device."""
    if is_tensor(like):
        import torch

        return torch.ones(shape, device=like.device, dtype=like.dtype)
    return np.ones(shape, dtype=like.dtype)


def xp_asarray(values, like):
    """`values` (a list) as an array of `like`'s float type, on its device."""
    if is_tensor(like):
        import torch

        return torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def xp_where0(cond, x):
    """x where cond, else 0 (x's dtype)."""
    if is_tensor(x):
        import torch

        return torch.where(cond, x, torch.zeros((), device=x.device, dtype=x.dtype))
    return np.where(cond, x, x.dtype.type(0))


def xp_any(x, axis: int):
    return x.any(dim=axis) if is_tensor(x) else x.any(axis=axis)


def xp_nonzero(mask):
    """Indices of the true entries of a 1-D mask."""
    if is_tensor(mask):
        import torch

        return torch.nonzero(mask).flatten()
    return np.flatnonzero(mask)


def xp_copy(x):
    return x.clone() if is_tensor(x) else x.copy()


def xp_minimum(a, b):
    if is_tensor(a):
        import torch

        return torch.minimum(a, b)
    return np.minimum(a, b)


def xp_maximum(a, b):
    if is_tensor(a):
        import torch

        return torch.maximum(a, b)
    return np.maximum(a, b)


def xp_clamp0(x):
    """max(x, 0)."""
    return x.clamp(min=0) if is_tensor(x) else np.maximum(x, 0)


def xp_to_numpy(x) -> np.ndarray:
    """float64 numpy (the one host copy of a tensor)."""
    return x.detach().cpu().double().numpy() if is_tensor(x) else np.asarray(x, np.float64)


def center_to_corners(box):
    """(..., 4) x, y, w, h -> x1, y1, x2, y2 (numpy arrays are computed in float64)."""
    if not is_tensor(box):
        box = np.asarray(box, np.float64)
    half = box[..., 2:] / 2.0
    return xp_cat([box[..., :2] - half, box[..., :2] + half], -1)


def corners_to_center(box):
    """(..., 4) x1, y1, x2, y2 -> x, y, w, h (numpy arrays are computed in float64)."""
    if not is_tensor(box):
        box = np.asarray(box, np.float64)
    size = box[..., 2:] - box[..., :2]
    return xp_cat([box[..., :2] + size / 2.0, size], -1)


def iou_cwh(ax, ay, aw, ah, bx, by, bw, bh):
    """Darknet's `box_iou` on centre/size components, broadcasting (tensors, autograd included,
    or arrays)."""
    if is_tensor(ax):
        import torch

        w = torch.minimum(ax + aw / 2, bx + bw / 2) - torch.maximum(ax - aw / 2, bx - bw / 2)
        h = torch.minimum(ay + ah / 2, by + bh / 2) - torch.maximum(ay - ah / 2, by - bh / 2)
        inter = torch.where((w < 0) | (h < 0), torch.zeros_like(w), w * h)
    else:
        w = np.minimum(ax + aw / 2, bx + bw / 2) - np.maximum(ax - aw / 2, bx - bw / 2)
        h = np.minimum(ay + ah / 2, by + bh / 2) - np.maximum(ay - ah / 2, by - bh / 2)
        inter = np.where((w < 0) | (h < 0), 0.0, w * h)
    return inter / (aw * ah + bw * bh - inter)


def box_iou(a, b):
    """Pairwise IoU of (N, 4) and (M, 4) centre-format boxes -> (N, M), tensors or arrays; the same
    arithmetic as `iou_cwh` (so the same bits), with the per-box terms computed once instead of
    per pair, and rows taken in slices so that the temporaries stay in the CPU's cache (2x faster
    at 845^2)."""
    a_lo, a_hi = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b_lo, b_hi = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    a_area, b_area = a[:, 2] * a[:, 3], b[:, 2] * b[:, 3]
    parts = []
    for i in range(0, max(a.shape[0], 1), _IOU_ROWS):
        j = slice(i, i + _IOU_ROWS)
        ow = xp_minimum(a_hi[j, None, 0], b_hi[None, :, 0]) - xp_maximum(a_lo[j, None, 0], b_lo[None, :, 0])
        oh = xp_minimum(a_hi[j, None, 1], b_hi[None, :, 1]) - xp_maximum(a_lo[j, None, 1], b_lo[None, :, 1])
        inter = xp_clamp0(ow) * xp_clamp0(oh)  # zero when either overlap is negative
        parts.append(inter / (a_area[j, None] + b_area[None, :] - inter))
    return parts[0] if len(parts) == 1 else xp_cat(parts, 0)


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


def _greedy_rows(over, scores):
    """`greedy_keep` for (over, scores) given as tensors or arrays: tensors take the blocked
    matrix algorithm (GPU-friendly), arrays the plain sequential walk (the torch-free engine:
    a handful of candidates per class at detection thresholds). Same answer, see `greedy_keep`."""
    if is_tensor(scores):
        return greedy_keep(over, scores)
    over = over.copy()
    np.fill_diagonal(over, False)
    keep = np.zeros(scores.shape, bool)
    for c in range(scores.shape[0]):
        col = scores[c]
        order = np.argsort(-col, kind="stable")[:int((col > 0).sum())]
        removed = np.zeros(len(col), bool)
        for i in order.tolist():
            if not removed[i]:
                keep[c, i] = True
                removed |= over[i]
    return keep


def nms_sort(boxes, objectness, probs, thresh: float):
    """Darknet's `do_nms_sort` for one image (tensors or arrays). boxes (M, 4) xywh, objectness
    (M,), probs (M, C).

    Boxes without objectness are set aside; then for every class the boxes are taken in
    decreasing order of that class's probability and each one still alive zeroes that class's
    probability in every later box overlapping it with IoU > `thresh`. Returns the probabilities
    with suppressed entries zeroed (a new array); boxes are not removed. `thresh <= 0` disables
    suppression. Darknet's qsort breaks ties in no fixed order; here the lower index goes first."""
    probs = xp_copy(probs)
    if thresh <= 0 or 0 in tuple(probs.shape):
        return probs
    idx = xp_nonzero((objectness != 0) & xp_any(probs > 0, 1))
    if idx.shape[0] < 2:
        return probs
    sub = probs[idx]
    classes = xp_nonzero((sub > 0).sum(0) > 1)  # a lone candidate always survives
    if classes.shape[0] == 0:
        return probs
    over = box_iou(boxes[idx], boxes[idx]) > thresh
    cols = sub[:, classes].T
    keep = _greedy_rows(over, cols)
    sub[:, classes] = xp_where0(keep, cols).T
    probs[idx] = sub
    return probs


def nms_obj(boxes, objectness, thresh: float):
    """Darknet's `do_nms_obj` (tensors or arrays): boxes by decreasing objectness; a live box
    zeroes the objectness of every later live box overlapping it with IoU > thresh. Returns the
    new objectness."""
    obj = xp_copy(objectness)
    if thresh <= 0:
        return obj
    idx = xp_nonzero(obj != 0)
    if idx.shape[0] < 2:
        return obj
    over = box_iou(boxes[idx], boxes[idx]) > thresh
    keep = _greedy_rows(over, obj[idx][None])[0]
    obj[idx[~keep]] = 0
    return obj
