"""Region loss against Darknet's own l.delta, cost and printed statistics."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from darkpy.train.detection.loss import RegionLoss
from darkpy.net.model import parse_network

sys.path.insert(0, str(Path(__file__).resolve().parent))

CASES = {
    "voc_seen0": "r_voc", "voc_seen20000": "r_voc", "norescore_seen20000": "r_norescore",
    "nobiasmatch_seen20000": "r_nobiasmatch", "logistic_seen20000": "r_logistic",
    "tree_seen20000": "r_tree", "tree_classonly": "r_tree",
}


def load_case(golden, case):
    d = golden / "region" / case
    meta = dict(kv.split("=") for kv in (d / "meta.txt").read_text().split())
    region = parse_network(golden / "cfg" / f"{CASES[case]}.cfg").layers[0]
    n, h, w = int(meta["batch"]), int(meta["h"]), int(meta["w"])
    x = torch.from_numpy(np.fromfile(d / "input.f32", np.float32)).reshape(n, -1, h, w)
    truth = torch.from_numpy(np.fromfile(d / "truth.f32", np.float32)).reshape(n, -1, 5)
    delta = torch.from_numpy(np.fromfile(d / "delta.f32", np.float32)).reshape(x.shape)
    lines = (d / "darknet_stdout.txt").read_text().splitlines()
    line = [s for s in lines if s.startswith("Region Avg IOU")][0]
    stats = [float(v) for v in re.findall(r":\s*([-\d.naninf]+)", line)]
    return region, x, truth, int(meta["seen"]), delta, float(meta["cost"]), stats


@pytest.mark.golden
@pytest.mark.parametrize("case", sorted(CASES))
def test_region_golden(golden, case):
    region, x, truth, seen, delta, cost, stats = load_case(golden, case)
    x = x.clone().requires_grad_(True)
    res = RegionLoss(region)(x, truth, seen)
    err = (res.delta - delta).abs().max().item()
    assert err <= 1e-5, f"{case}: max |delta error| {err}"
    assert res.cost.item() == pytest.approx(cost, rel=1e-5)
    s = res.summary()
    got = [s["avg_iou"], s["class"], s["obj"], s["no_obj"], s["avg_recall"], s["count"]]
    assert got == pytest.approx(stats, abs=2e-6), (got, stats)
    res.loss.backward()
    assert torch.equal(x.grad, -res.delta)


@pytest.mark.golden
def test_logistic_gradient_option(golden):
    region, x, truth, seen, delta, _, _ = load_case(golden, "voc_seen20000")
    x = x.clone().requires_grad_(True)
    res = RegionLoss(region, logistic_gradient=True)(x, truth, seen)
    res.loss.backward()
    v = x.detach().view(2, 5, 25, 13, 13)
    sig = torch.sigmoid(v)
    g = -res.delta.view(2, 5, 25, 13, 13).clone()
    g[:, :, [0, 1, 4]] *= sig[:, :, [0, 1, 4]] * (1 - sig[:, :, [0, 1, 4]])
    assert torch.allclose(x.grad.view_as(g), g, atol=1e-7)
    assert (res.delta - delta).abs().max() <= 1e-5


def test_collisions_later_truth_wins():
    """Two truths in the same cell and anchor: Darknet's sequential loop keeps the later one's
    box/objectness, and for logistic classes both classes stay labelled."""
    net = parse_network(
        "[net]\nbatch=1\nwidth=3\nheight=3\nchannels=14\n\n[region]\nanchors=1,1,2,2\nclasses=2\n"
        "coords=4\nnum=2\nsoftmax=0\nbias_match=1\nrescore=1\nobject_scale=5\nabsolute=1\n")
    region = net.layers[0]
    x = torch.randn(1, 14, 3, 3, generator=torch.Generator().manual_seed(0))
    truth = torch.zeros(1, 30, 5)
    truth[0, 0] = torch.tensor([0.5, 0.5, 0.3, 0.3, 0])
    truth[0, 1] = torch.tensor([0.4, 0.45, 0.31, 0.32, 1])
    res = RegionLoss(region)(x, truth, 20000)
    out = region.activate(x).view(1, 2, 7, 3, 3)
    d = res.delta.view(1, 2, 7, 3, 3)
    # anchor 0 (shape 1/3) matches both; cell (1, 1)
    assert torch.allclose(d[0, 0, 5:, 1, 1], 1 - out[0, 0, 5:, 1, 1])
    tx = 0.4 * 3 - 1
    expected = (2 - 0.31 * 0.32) * (tx - out[0, 0, 0, 1, 1].item())
    assert d[0, 0, 0, 1, 1].item() == pytest.approx(expected, abs=1e-6)
    assert res.summary()["count"] == 2


TREE = "n1 -1\nn2 -1\nn3 0\nn4 0\nn5 0\nn6 1\nn7 1\nn8 2\nn9 2\nn10 7\nn11 7\n"


VARIANTS = ["softmax", "logistic", "nobias", "norescore", "warmup", "tree", "classonly"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_against_loop_reference(tmp_path, variant):
    """Crowded truths (many share a cell and anchor) against a plain sequential port."""
    from region_reference import reference_delta

    classes = 11 if variant in ("tree", "classonly") else 4
    extra = ""
    if classes == 11:
        (tmp_path / "t.tree").write_text(TREE)
        extra = "tree=t.tree\n"
    cfg = tmp_path / "r.cfg"
    cfg.write_text(
        f"[net]\nbatch=3\nwidth=3\nheight=3\nchannels={3 * (5 + classes)}\n\n[region]\n"
        f"anchors=0.5,0.7,1.5,1.2,2.5,2.8\nclasses={classes}\ncoords=4\nnum=3\nthresh=.3\n"
        f"softmax={0 if variant == 'logistic' else 1}\nbias_match={0 if variant == 'nobias' else 1}\n"
        f"rescore={0 if variant == 'norescore' else 1}\nobject_scale=5\nnoobject_scale=0.5\n"
        f"class_scale=2\ncoord_scale=1.5\n{extra}")
    region = parse_network(cfg).layers[0]
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(3, 3 * (5 + classes), 3, 3, generator=gen) * 6 - 3
    truth = torch.zeros(3, 30, 5)
    counts = [14, 0, 9]
    for b, n in enumerate(counts):
        truth[b, :n, :2] = torch.rand(n, 2, generator=gen) * 0.98 + 0.01
        truth[b, :n, 2:4] = torch.rand(n, 2, generator=gen) * 0.6 + 0.05
        truth[b, :n, 4] = torch.randint(0, classes, (n,), generator=gen).float()
    truth[0, 20] = torch.tensor([0.5, 0.5, 0.2, 0.2, 1.0])  # after the terminator: ignored
    if variant == "classonly":
        truth[2, 3, :2] = 1e6
        truth[2, 5, :2] = 1e6
    seen = 100 if variant == "warmup" else 20000
    res = RegionLoss(region)(x, truth, seen)
    out = region.activate(x).double().view(3, 3, 5 + classes, 3, 3).numpy()
    d, s = reference_delta(region, out, truth.double().numpy(), seen)
    assert (res.delta.double().view(d.shape) - torch.from_numpy(d)).abs().max().item() < 1e-5
    got = res.summary()
    assert got["count"] == s["count"]
    assert got["class"] == pytest.approx(s["cat"] / s["class_count"], abs=1e-5)
    assert got["avg_iou"] == pytest.approx(s["iou"] / s["count"], abs=1e-5)
    assert got["obj"] == pytest.approx(s["obj"] / s["count"], abs=1e-5)
    assert got["no_obj"] == pytest.approx(s["anyobj"] / (3 * 3 * 3 * 3), abs=1e-5)
    assert got["avg_recall"] == pytest.approx(s["recall"] / s["count"], abs=1e-5)


def test_bad_class_rejected(golden):
    region, x, truth, seen, *_ = load_case(golden, "voc_seen20000")
    truth = truth.clone()
    truth[1, 2, 4] = 20
    with pytest.raises(ValueError, match="image 1, slot 2"):
        RegionLoss(region)(x, truth, seen)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_region_cuda_matches_cpu(golden):
    for case in ("voc_seen0", "logistic_seen20000", "tree_classonly"):
        region, x, truth, seen, delta, _, _ = load_case(golden, case)
        loss = RegionLoss(region).cuda()
        xc = x.cuda().requires_grad_(True)
        res = loss(xc, truth.cuda(), seen)
        assert (res.delta.cpu() - delta).abs().max().item() <= 1e-5
        res.loss.backward()
        assert torch.equal(xc.grad, -res.delta)
