"""Issue 25: half precision cannot silently turn a layer into inf. A batch-normalised channel
whose rolling variance is 0 folds to weights scale / 1e-6 times larger; cast to fp16 they are inf
and every box NaN. Such layers stay fp32 (and say so)."""
from __future__ import annotations

import torch

import darkpy
from darkpy.cli.precision import precision_note
from darkpy.net.inference import FusedConv, Predictor, fits_dtype, forward_detections
from tests.net.zero_variance import ZERO_VARIANCE_CFG

CFG = ZERO_VARIANCE_CFG


def _net(tmp_path):
    path = tmp_path / "zero_var.cfg"
    path.write_text(CFG)
    net = darkpy.load_network(path, device="cpu", seed=0)
    first = net.blocks[0]
    with torch.no_grad():
        first.weight[0] = 0.2                                   # folded: 0.2 / 1e-6 = 2e5 > 65504
        # a channel that is constant on the data (what variance 0 means): a uniform grey image
        # gives 3 * 0.2 * 0.5 = 0.3 there, its rolling mean
        first.rolling_variance[0] = 0.0
        first.rolling_mean[0] = 0.3
    return net


def test_zero_variance_channel_folds_to_finite_fp16_outputs(tmp_path):
    net = _net(tmp_path)
    x = torch.full((1, 3, 16, 16), 0.5)
    with torch.no_grad():
        ref = forward_detections(net.eval(), x)[0]
    assert torch.isfinite(ref).all()
    assert not fits_dtype(FusedConv(net.blocks[0]), torch.float16)   # the overflow is real
    p = Predictor(net, device="cpu", precision="fp16")
    assert p.kept_fp32 == [0] and p.model.blocks[0].weight.dtype == torch.float32
    assert p.model.blocks[1].weight.dtype == torch.float16          # the rest still runs in fp16
    out = p(x)[0]
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max().item() < 5e-2
    assert "layer(s) 0 kept in fp32" in p.notes[0]
    assert "layer(s) 0 kept in fp32" in precision_note(p)


def test_bf16_has_the_range_and_keeps_nothing(tmp_path):
    p = Predictor(_net(tmp_path), device="cpu", precision="bf16")
    assert p.kept_fp32 == [] and p.notes == []


def test_ordinary_weights_convert(tmp_path):
    path = tmp_path / "plain.cfg"
    path.write_text(CFG)
    p = Predictor(darkpy.load_network(path, device="cpu", seed=0), device="cpu", precision="fp16")
    assert p.kept_fp32 == [] and precision_note(p).startswith(" (fp16")
