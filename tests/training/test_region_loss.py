"""Region loss against Darknet's own l.delta, cost and printed statistics."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from darkpy.losses import RegionLoss
from darkpy.model import parse_network

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
    line = [s for s in (d / "darknet_stdout.txt").read_text().splitlines() if s.startswith("Region Avg IOU")][0]
    stats = [float(v) for v in re.findall(r":\s*([-\d.naninf]+)", line)]
    return region, x, truth, int(meta["seen"]), delta, float(meta["cost"]), stats


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
    assert d[0, 0, 0, 1, 1].item() == pytest.approx((2 - 0.31 * 0.32) * (tx - out[0, 0, 0, 1, 1].item()), abs=1e-6)
    assert res.summary()["count"] == 2
