"""darkpy.boxes: conversions, the IoU conventions, and the vectorised greedy NMS against a plain
sequential walk (Darknet's `do_nms_sort` / `do_nms_obj` loops written out box by box)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from darkpy.boxes import (
    box_iou, center_to_corners, coco_iou, corners_to_center, greedy_keep, iou_cwh, nms_obj, nms_sort, voc_iou,
    wh_iou)


def test_importing_boxes_leaves_torch_alone():
    code = "import sys, darkpy.boxes, darkpy.eval.voc; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_center_corner_round_trip_numpy_and_torch():
    c = np.array([[50, 40, 20, 10], [10, 10, 4, 4]], np.float64)
    k = center_to_corners(c)
    np.testing.assert_array_equal(k, [[40, 35, 60, 45], [8, 8, 12, 12]])
    np.testing.assert_array_equal(corners_to_center(k), c)
    t = center_to_corners(torch.tensor(c, dtype=torch.float32))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), k)


def test_darknet_iou_rules():
    a = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    b = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.6, 0.5, 0.2, 0.2], [0.9, 0.9, 0.1, 0.1], [0.5, 0.5, 0.1, 0.4]])
    iou = box_iou(a, b)[0]
    assert iou[0] == pytest.approx(1) and iou[1] == pytest.approx(1 / 3, rel=1e-5) and iou[2] == 0
    assert iou[3] == pytest.approx(0.02 / 0.06, rel=1e-5)  # a cross: overlaps 0.1 x 0.2
    # both overlaps negative: Darknet's product would be positive; it is zero
    assert box_iou(torch.tensor([[0.1, 0.1, 0.1, 0.1]]), torch.tensor([[0.9, 0.9, 0.1, 0.1]]))[0, 0] == 0


def test_pairwise_and_broadcast_iou_are_the_same_bits():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(40, 4, generator=g)
    b = torch.rand(30, 4, generator=g)
    pair = box_iou(a, b)
    x, y = a[:, None, :], b[None, :, :]
    bc = iou_cwh(x[..., 0], x[..., 1], x[..., 2], x[..., 3], y[..., 0], y[..., 1], y[..., 2], y[..., 3])
    assert torch.equal(pair, bc)
    xn, yn = x.numpy(), y.numpy()
    npv = iou_cwh(xn[..., 0], xn[..., 1], xn[..., 2], xn[..., 3], yn[..., 0], yn[..., 1], yn[..., 2], yn[..., 3])
    np.testing.assert_array_equal(npv, pair.numpy())
    assert torch.equal(box_iou(a, a), box_iou(a, a).t())  # symmetric, which the NMS relies on


def test_iou_cwh_keeps_gradients():
    w = torch.tensor([0.3], requires_grad=True)
    iou = iou_cwh(torch.tensor(0.5), torch.tensor(0.5), w, torch.tensor(0.3),
                  torch.tensor(0.5), torch.tensor(0.5), torch.tensor(0.2), torch.tensor(0.2))
    iou.sum().backward()
    assert w.grad is not None and w.grad.item() < 0


def test_shape_voc_and_coco_iou():
    np.testing.assert_allclose(wh_iou([[2, 1]], [[1, 2], [2, 1], [4, 2]]), [[1 / 3, 1, 0.25]])
    det = np.array([0.0, 0.0, 9.0, 9.0])
    gt = np.array([5.0, 0.0, 14.0, 9.0])
    assert voc_iou(det, gt) == pytest.approx(50 / 150)  # +1 pixel widths: 10x10 boxes, 5x10 overlap
    assert coco_iou(det, gt) == pytest.approx(36 / 126)
    assert coco_iou(det, gt, True) == pytest.approx(36 / 81)  # crowd: union is the detection
    assert coco_iou(det, np.array([20.0, 20, 30, 30])) == 0


def sequential_keep(over: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The greedy walk box by box, as Darknet writes it."""
    keep = np.zeros_like(scores, dtype=bool)
    for c in range(scores.shape[0]):
        order = [i for i in np.argsort(-scores[c], kind="stable") if scores[c, i] > 0]
        alive = {i: True for i in order}
        for a, i in enumerate(order):
            if alive[i]:
                for j in order[a + 1:]:
                    if over[i, j]:
                        alive[j] = False
        for i in order:
            keep[c, i] = alive[i]
    return keep


@pytest.mark.parametrize("block", [3, 8, 64])
def test_greedy_keep_is_the_sequential_greedy(block):
    rng = np.random.default_rng(7)
    for n, density in ((1, 0.5), (5, 0.9), (40, 0.05), (40, 0.3), (90, 0.7)):
        over = rng.random((n, n)) < density
        over = over | over.T
        scores = rng.random((4, n)) * (rng.random((4, n)) < 0.8)
        scores[1, : n // 2] = 0.5  # ties: the lower index goes first
        got = greedy_keep(torch.from_numpy(over), torch.from_numpy(scores), block).numpy()
        np.testing.assert_array_equal(got, sequential_keep(over, scores))


def test_greedy_keep_on_a_chain():
    # box i overlaps only box i+1: keep alternates, the worst case for a fixed-point iteration
    n = 50
    over = np.zeros((n, n), bool)
    over[np.arange(n - 1), np.arange(1, n)] = True
    over |= over.T
    scores = np.linspace(1, 0.1, n)[None]
    got = greedy_keep(torch.from_numpy(over), torch.from_numpy(scores), 16).numpy()[0]
    assert got.tolist() == [i % 2 == 0 for i in range(n)]


def _random_detections(seed: int, n: int = 120, classes: int = 6):
    g = torch.Generator().manual_seed(seed)
    boxes = torch.cat([torch.rand(n, 2, generator=g), 0.05 + 0.3 * torch.rand(n, 2, generator=g)], 1)
    obj = torch.rand(n, generator=g)
    obj[obj < 0.2] = 0
    probs = torch.rand(n, classes, generator=g) * obj[:, None]
    probs[probs < 0.1] = 0
    return boxes, obj, probs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_sort_is_darknets_walk(seed):
    boxes, obj, probs = _random_detections(seed)
    got = nms_sort(boxes, obj, probs, 0.45)
    live = ((obj != 0) & (probs > 0).any(1)).numpy()
    idx = np.flatnonzero(live)
    over = (box_iou(boxes[idx], boxes[idx]) > 0.45).numpy()
    keep = sequential_keep(over, probs[idx].numpy().T).T
    want = probs.clone()
    want[torch.from_numpy(idx)] = torch.where(torch.from_numpy(keep), probs[idx], torch.zeros(()))
    assert torch.equal(got, want)
    assert torch.equal(nms_sort(boxes, obj, probs, 0), probs) and got is not probs


@pytest.mark.parametrize("seed", [0, 3])
def test_nms_obj_is_darknets_walk(seed):
    boxes, obj, _ = _random_detections(seed)
    got = nms_obj(boxes, obj, 0.4)
    idx = np.flatnonzero(obj.numpy() != 0)
    over = (box_iou(boxes[idx], boxes[idx]) > 0.4).numpy()
    keep = sequential_keep(over, obj[idx].numpy()[None])[0]
    want = obj.clone()
    want[torch.from_numpy(idx[~keep])] = 0
    assert torch.equal(got, want)
