"""Batch norm folding and the fast predictor give the unfused network's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import darkpy
from darkpy.inference import FusedConv, Predictor, forward_detections, fuse


@pytest.mark.parametrize("name", ["g_yolov2_mini", "g_tiny_mini", "g_tree_mini"])
def test_fused_network_matches_unfused(golden, name):
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    x = torch.cat([x, x.flip(3)])
    with torch.no_grad():
        ref = forward_detections(net, x)
    fused = fuse(net)
    assert any(isinstance(l, FusedConv) for l in fused.blocks)
    assert not any(isinstance(l, FusedConv) for l in net.blocks)  # the original is untouched
    for channels_last in (False, True):
        got = Predictor(net, device="cpu", channels_last=channels_last)(x)
        assert len(got) == len(ref)
        for a, b in zip(got, ref):
            assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())
    with torch.no_grad():
        assert (fused(x) - net(x)).abs().max().item() <= 1e-4 * max(1.0, net(x).abs().max().item())
