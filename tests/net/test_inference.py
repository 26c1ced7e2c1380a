"""Batch norm folding and the fast predictor give the unfused network's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import darkpy
from darkpy.net.inference import FusedConv, Predictor, forward_detections, fuse


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


@pytest.mark.golden
def test_fused_real_yolov2_prefix_matches_darknet(golden):
    """Real trained batch-norm statistics (the first 10 layers of yolov2.weights)."""
    folder = golden / "real_prefix"
    net = darkpy.load_network(folder / "yolov2-first10.cfg", folder / "weights", device="cpu")
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, 3, 416, 416))
    ref = np.fromfile(folder / "layer09.f32", np.float32)
    got = Predictor(net, device="cpu")(x)[0].numpy().ravel()
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    with torch.no_grad():
        unfused = net(x).numpy().ravel()
    assert np.abs(got - unfused).max() <= 1e-4 * np.abs(unfused).max()


def test_half_precision_path_runs_close(golden):
    """fp16 is what CUDA uses; the same code runs (slowly) on the CPU, to fp16 accuracy."""
    name = "g_tree_mini"
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", golden / "forward" / name / "weights",
                              device="cpu")
    x = torch.rand(2, 3, net.net.height, net.net.width, generator=torch.Generator().manual_seed(0))
    got = Predictor(net, device="cpu", half=True)(x)[0]
    with torch.no_grad():
        ref = forward_detections(net, x)[0]
    assert got.dtype == torch.float32 and (got - ref).abs().max().item() < 2e-2


def test_inplace_fold_converts_the_network_itself_and_matches(golden):
    """`inplace=True` (what the CLI uses) folds in the network's own tensors: no copy, same numbers."""
    name = "g_yolov2_mini"
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    ref = Predictor(net, device="cpu", pack=False)(x)
    conv = next(l for l in net.blocks if hasattr(l, "rolling_mean"))
    ptr = conv.weight.data_ptr()
    p = Predictor(net, device="cpu", inplace=True, pack=False)   # packed weights move to oneDNN
    assert p.model is net and any(isinstance(l, FusedConv) for l in net.blocks)
    assert any(isinstance(l, FusedConv) and l.weight.data_ptr() == ptr for l in net.blocks)  # not copied
    for a, b in zip(p(x), ref):
        assert torch.equal(a, b)


def test_fused_copy_is_a_network_that_resizes(golden):
    name = "g_tiny_mini"
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", golden / "forward" / name / "weights",
                              device="cpu")
    fused = fuse(net)
    assert fused is not net and fused.detection_layers
    fused.resize(64, 64)
    assert fused.net.width == 64 and net.net.width != 64 or net.net.width == 64


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compiled_predictor_matches_eager_and_pads_small_batches(golden, precision):
    name = "g_yolov2_mini"
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.rand(3, c, h, w, generator=torch.Generator().manual_seed(1))
    eager = Predictor(net, device="cpu", precision=precision)(x)
    p = Predictor(net, device="cpu", precision=precision, compile=True)
    got = p(x)
    tol = 1e-4 if precision == "fp32" else 5e-2
    for a, b in zip(got, eager):
        assert a.shape == b.shape and (a - b).abs().max().item() <= tol * max(1.0, b.abs().max().item())
    small = p(x[:2])  # padded to the traced batch of 3, not traced again
    assert len(p._compiled) == 1 and small[0].shape[0] == 2
    for a, b in zip(small, got):
        assert (a - b[:2]).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())
