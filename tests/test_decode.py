"""Box decoding, letterbox correction, tree walk and NMS against Darknet's own boxes."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import darkpy
from darkpy.boxes import box_iou, nms_sort
from darkpy.decode import decode, hierarchy_predictions, hierarchy_top_prediction
from darkpy.tree import build_tree
from darkpy.tree import hierarchy_top_prediction as top_one


def _golden_boxes(golden, name):
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    lines = (folder / "boxes.txt").read_text().splitlines()
    m = re.search(r"image (\d+)x(\d+) thresh ([\d.]+) hier ([\d.]+) nms ([\d.]+)", lines[0])
    iw, ih = int(m[1]), int(m[2])
    thresh, hier, nms = float(m[3]), float(m[4]), float(m[5])
    ref = np.array([[float(v) for v in line.split()] for line in lines[1:] if line.strip()])
    with torch.no_grad():
        outs = net.forward_all(x)
    layers = net.detection_layers
    raw = decode(layers, [outs[l.index] for l in layers], w, h, [(iw, ih)], thresh, hier)[0]
    probs = nms_sort(raw.boxes, raw.objectness, raw.probs, nms)
    got = torch.cat([raw.boxes, raw.objectness[:, None], probs], 1).numpy()
    return got, ref


@pytest.mark.golden
@pytest.mark.parametrize("name", ["g_yolov2_mini", "g_tiny_mini", "g_tree_mini"])
def test_boxes_match_darknet(golden, name):
    got, ref = _golden_boxes(golden, name)
    assert got.shape == ref.shape
    # Darknet's order after do_nms_sort comes from qsort (not stable): compare as sets.
    got_live, ref_live = got[got[:, 4] > 0], ref[ref[:, 4] > 0]
    assert len(got_live) == len(ref_live)
    tol = 1e-4 * np.maximum(1.0, np.abs(ref_live))
    used = set()
    for row, t in zip(ref_live, tol):
        err = np.abs(got_live - row)
        ok = np.nonzero((err <= t).all(axis=1))[0]
        assert len(ok), f"Darknet box {row[:5]} not found; nearest differs by {err.max(1).min()}"
        used.add(int(ok[0]))
    assert len(used) == len(ref_live)
    assert (ref_live[:, 5:] > 0).sum() == (got_live[:, 5:] > 0).sum()


def test_tree_walk_matches_scalar_walk():
    names = [f"n{i}" for i in range(9)]
    tree = build_tree(names, [-1, -1, 0, 0, 0, 1, 1, 2, 2])
    rng = np.random.default_rng(3)
    cond = torch.from_numpy(rng.random((200, 9), dtype=np.float32))
    cond[:5] = 0
    absolute = hierarchy_predictions(cond, tree)
    assert torch.allclose(absolute[:, 7], cond[:, 7] * cond[:, 2] * cond[:, 0])
    for thresh in (0.0, 0.1, 0.3, 0.5, 0.9):
        fast = hierarchy_top_prediction(absolute, tree, thresh).tolist()
        slow = [top_one(a, tree, thresh) for a in absolute.numpy()]
        assert fast == slow


def test_iou_and_nms_like_darknet():
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.52, 0.5, 0.2, 0.2], [0.8, 0.8, 0.1, 0.1], [0.5, 0.5, 0.4, 0.4]])
    iou = box_iou(boxes, boxes)
    assert torch.allclose(iou.diagonal(), torch.ones(4))
    assert iou[0, 2] == 0 and abs(iou[0, 3] - 0.25) < 1e-6
    obj = torch.tensor([0.9, 0.8, 0.7, 0.0])
    probs = torch.tensor([[0.9, 0.0], [0.8, 0.6], [0.7, 0.0], [0.0, 0.0]])
    out = nms_sort(boxes, obj, probs, 0.45)
    assert out.tolist() == [[pytest.approx(0.9), 0.0], [0.0, pytest.approx(0.6)], [pytest.approx(0.7), 0.0], [0, 0]]
    assert torch.equal(nms_sort(boxes, obj, probs, 0), probs)
