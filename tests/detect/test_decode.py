"""Box decoding, letterbox correction, tree walk and NMS against Darknet's own boxes."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import darkpy
from darkpy.boxes import box_iou, greedy_keep, nms_sort
from darkpy.detect.decode import decode
from darkpy.wordtree.hierarchy import hierarchy_predictions, hierarchy_top_prediction
from darkpy.wordtree.tree import build_tree


def top_one(probs: np.ndarray, tree, thresh: float) -> int:
    """Straight transcription of Darknet's `hierarchy_top_prediction` (the reference the
    vectorised `darkpy.wordtree.hierarchy.darknet_walk` is checked against)."""
    p = 1.0
    group = 0
    while True:
        lo = int(tree.group_offset[group])
        size = int(tree.group_size[group])
        vals = probs[lo:lo + size]
        k = int(np.argmax(vals))
        best, best_i = float(vals[k]), lo + k
        if best <= 0:
            best_i = 0  # Darknet's running max starts at 0 with index 0: no positive value -> node 0
        if p * best > thresh:
            p *= best
            group = int(tree.child[best_i])
            if group < 0:
                return best_i
        elif group == 0:
            return best_i
        else:
            return int(tree.parent[lo])


def _golden_boxes(golden, name, fused=False):
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    lines = (folder / "boxes.txt").read_text().splitlines()
    m = re.search(r"image (\d+)x(\d+) thresh ([\d.]+) hier ([\d.]+) nms ([\d.]+)", lines[0])
    iw, ih = int(m[1]), int(m[2])
    thresh, hier, nms = float(m[3]), float(m[4]), float(m[5])
    ref = np.array([[float(v) for v in line.split()] for line in lines[1:] if line.strip()])
    layers = net.detection_layers
    if fused:
        from darkpy.net.inference import Predictor

        det_outs = Predictor(net, device="cpu")(x)
    else:
        with torch.no_grad():
            outs = net.forward_all(x)
        det_outs = [outs[l.index] for l in layers]
    raw = decode(layers, det_outs, w, h, [(iw, ih)], thresh, hier)[0]
    probs = nms_sort(raw.boxes, raw.objectness, raw.probs, nms)
    got = torch.cat([raw.boxes, raw.objectness[:, None], probs], 1).numpy()
    return got, ref


@pytest.mark.golden
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("name", ["g_yolov2_mini", "g_tiny_mini", "g_tree_mini"])
def test_boxes_match_darknet(golden, name, fused):
    got, ref = _golden_boxes(golden, name, fused)
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
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.52, 0.5, 0.2, 0.2], [0.8, 0.8, 0.1, 0.1],
                          [0.5, 0.5, 0.4, 0.4]])
    iou = box_iou(boxes, boxes)
    assert torch.allclose(iou.diagonal(), torch.ones(4))
    assert iou[0, 2] == 0 and abs(iou[0, 3] - 0.25) < 1e-6
    obj = torch.tensor([0.9, 0.8, 0.7, 0.0])
    probs = torch.tensor([[0.9, 0.0], [0.8, 0.6], [0.7, 0.0], [0.0, 0.0]])
    out = nms_sort(boxes, obj, probs, 0.45)
    assert out.tolist() == [[pytest.approx(0.9), 0.0], [0.0, pytest.approx(0.6)], [pytest.approx(0.7), 0.0],
                            [0, 0]]
    assert torch.equal(nms_sort(boxes, obj, probs, 0), probs)


def test_yolo_decoding_by_hand(tmp_path):
    cfg = tmp_path / "y.cfg"
    cfg.write_text("[net]\nwidth=2\nheight=2\nchannels=12\n\n"
                   "[yolo]\nmask=0,1\nanchors=1,1, 2,2\nclasses=1\nnum=2\n")
    net = darkpy.net.model.parse_network(cfg)
    layer = net.detection_layers[0]
    out = torch.zeros(1, 12, 2, 2)
    v = out.view(1, 2, 6, 2, 2)
    v[0, 1, 0:2, 1, 0] = 0.5      # anchor 1 at row 1, col 0: sigmoid'd x, y offsets
    v[0, 1, 4, 1, 0] = 0.9        # objectness
    v[0, 1, 5, 1, 0] = 0.8        # class score
    v[0, 0, 4, 0, 1] = 0.3        # below thresh: no box
    raw = decode([layer], [out], 2, 2, [(100, 50)], thresh=0.5, letterbox=False)[0]
    assert raw.boxes.shape == (8, 4)
    i = (1 * 2 + 0) * 2 + 1       # cells outer, anchors inner
    assert torch.allclose(raw.boxes[i], torch.tensor([0.25, 0.75, 1.0, 1.0]))
    assert raw.objectness.nonzero().flatten().tolist() == [i]
    assert raw.probs[i, 0].item() == pytest.approx(0.72)
    from darkpy.detect.pipeline import detections_from_raw

    (d,) = detections_from_raw(raw, 100, 50)
    assert (d.x1, d.y1, d.x2, d.y2) == pytest.approx((-25, 12.5, 75, 62.5))


def _greedy(over: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Keep-mask (numpy) of `greedy_keep` taking the boxes in `order` (all, by index, when None);
    over[i, j]: IoU(i, j) > thresh. Entry k of the result is box order[k]'s fate."""
    n = over.shape[0]
    order = np.arange(n) if order is None else np.asarray(order)
    scores = np.zeros(n, np.float64)
    scores[order] = np.arange(len(order), 0, -1)
    keep = greedy_keep(torch.from_numpy(np.asarray(over, bool)), torch.from_numpy(scores)[None])[0]
    return keep.numpy()[order]


def test_greedy_nms_matches_sequential_walk():

    rng = np.random.default_rng(5)
    for n in (1, 2, 10, 60, 200):
        for density in (0.02, 0.2, 0.6):
            over = rng.random((n, n)) < density
            over = over | over.T
            alive = np.ones(n, dtype=bool)
            for i in range(n):
                if alive[i]:
                    alive[i + 1:] &= ~over[i, i + 1:]
            assert np.array_equal(_greedy(over), alive)
            perm = rng.permutation(n)
            assert np.array_equal(_greedy(over[np.ix_(perm, perm)]), _greedy(over, perm))


def test_one_decode_and_nms_for_arrays_and_tensors():
    """decode_region / decode_yolo / nms_sort / nms_obj are written once: numpy arrays (the
    torch-free engine) and tensors (the torch engine) give the same numbers."""
    from darkpy.boxes import nms_obj
    from darkpy.detect.decode import decode_region, decode_yolo
    from darkpy.net.spec import read_spec

    rng = np.random.default_rng(3)
    region = read_spec("cfg/demo.cfg").detection_layers[0]
    c, h, w = region.in_shape
    out = rng.random((2, c, h, w), dtype=np.float32)
    out[:, 2::region.entries] = rng.normal(size=(2, region.num, h, w)).astype(np.float32)  # tw, th raw
    got = decode_region(region, out, 0.3)
    ref = decode_region(region, torch.from_numpy(out), 0.3)
    for a, b in zip(got, ref):
        assert isinstance(a, np.ndarray) and a.dtype == np.float32
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-7)
    yolo = read_spec("cfg/yolov3-tiny.cfg", 64).detection_layers[0]
    yout = rng.random((1, *yolo.in_shape), dtype=np.float32)
    for a, b in zip(decode_yolo(yolo, yout, 0.3, 64, 64), decode_yolo(yolo, torch.from_numpy(yout), 0.3, 64, 64)):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-7)
    boxes, obj, probs = (x[0] for x in ref)
    kept = nms_sort(boxes, obj, probs, 0.45)
    assert (kept > 0).sum() < (probs > 0).sum()  # something was suppressed
    assert np.array_equal(nms_sort(boxes.numpy(), obj.numpy(), probs.numpy(), 0.45), kept.numpy())
    assert np.array_equal(nms_obj(boxes.numpy(), obj.numpy(), 0.3), nms_obj(boxes, obj, 0.3).numpy())


def test_both_detectors_take_detect_options(tmp_path):
    from darkpy.detect.base import DetectorBase
    from darkpy.detect.detector import Detector
    from darkpy.detect.options import DetectOptions
    from darkpy.detect.numpy_engine import NumpyDetector
    from darkpy.net.numpy_forward import NumpyUnsupported

    opts = DetectOptions(thresh=0.3, names=["a", "b", "c"], precision="fp32", batch=2)
    image = "data/demo/images/001988.jpg"
    engines = [NumpyDetector("cfg/demo.cfg", "data/demo/demo.weights", opts),
               Detector("cfg/demo.cfg", "data/demo/demo.weights", opts)]
    assert all(isinstance(e, DetectorBase) and e.options is opts for e in engines)
    assert [e.images_per_forward for e in engines] == [1, 2]
    a, b = (e.detect([image])[0] for e in engines)
    assert len(a) > 0 and len(a) == len(b)
    for u, v in zip((d.to_dict() for d in a), (d.to_dict() for d in b)):
        # two engines, two summation orders: the same detections to the printed digit's rounding
        assert u["class_id"] == v["class_id"] and u["box"] == pytest.approx(v["box"], abs=0.011)
        assert u["confidence"] == pytest.approx(v["confidence"], abs=1.1e-6)
    with pytest.raises(NumpyUnsupported):
        NumpyDetector("cfg/demo.cfg", "data/demo/demo.weights", opts.replace(precision="bf16"))
