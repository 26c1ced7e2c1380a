"""F(2x2, 3x3) Winograd convolutions (darkpy.net.winograd): a direct convolution's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import darkpy
from darkpy.net import packed
from darkpy.net import winograd as wg
from darkpy.net.inference import FusedConv, Predictor


@pytest.mark.parametrize("shape", [(2, 64, 32, 13, 13), (1, 16, 8, 6, 9), (3, 8, 16, 7, 4), (1, 4, 4, 1, 1)])
@pytest.mark.parametrize("bias", [True, False])
def test_winograd_is_as_close_to_float64_as_a_direct_convolution(shape, bias):
    n, c, o, h, w = shape
    g = torch.Generator().manual_seed(sum(shape))
    x, k = torch.randn(n, c, h, w, generator=g), torch.randn(o, c, 3, 3, generator=g)
    b = torch.randn(o, generator=g) if bias else None
    exact = F.conv2d(x.double(), k.double(), None if b is None else b.double(), padding=1)
    got = wg.Winograd3x3(k, b)(x)
    direct = F.conv2d(x, k, b, padding=1)
    assert got.shape == exact.shape and got.dtype == torch.float32
    assert got.is_contiguous(memory_format=torch.channels_last)
    scale = exact.abs().max().item()
    assert (got.double() - exact).abs().max().item() <= max(4 * (direct.double() - exact).abs().max().item(),
                                                            1e-6 * scale)


def test_the_filter_transform_is_g_w_gt_in_float64():
    k = torch.randn(5, 3, 3, 3, generator=torch.Generator().manual_seed(2))
    g = torch.tensor(wg._G, dtype=torch.float64)
    want = torch.einsum("ik,ockl,jl->ijoc", g, k.double(), g).reshape(16, 5, 3).float()
    assert torch.equal(wg.Winograd3x3(k, None).filters, want)


@pytest.mark.parametrize("args,ok", [
    ((3, 1, 1, 1, 128, 128, torch.float32), True),
    ((3, 2, 1, 1, 128, 128, torch.float32), False),      # stride 2
    ((1, 1, 0, 1, 128, 128, torch.float32), False),      # 1x1
    ((3, 1, 1, 2, 128, 128, torch.float32), False),      # grouped
    ((3, 1, 1, 1, 64, 128, torch.float32), False),       # too few channels to gain
    ((3, 1, 1, 1, 128, 128, torch.bfloat16), False),     # fp32 only
])
def test_eligible_layers(args, ok):
    assert wg.eligible(*args) is ok


@pytest.mark.skipif(not packed.available(), reason="this torch has no oneDNN")
@pytest.mark.parametrize("name", ["g_yolov2_mini", "g_tiny_mini", "g_yolov3_mini"])
def test_every_3x3_layer_by_winograd_still_gives_darknets_outputs(golden, monkeypatch, name):
    monkeypatch.setattr(wg, "MIN_CHANNELS", 1)
    monkeypatch.setattr(wg, "MIN_FILTERS", 1)
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    p = Predictor(net, device="cpu")
    assert any(isinstance(l.packed, wg.Winograd3x3) for l in p.model.blocks if isinstance(l, FusedConv))
    for out, layer in zip(p(x), net.detection_layers):
        ref = np.fromfile(folder / f"layer{layer.index:02d}.f32", np.float32)
        assert np.abs(out.numpy().ravel() - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())



@pytest.mark.skipif(not packed.available(), reason="this torch has no oneDNN")
def test_predictor_uses_winograd_for_wide_fp32_layers_only_when_asked(tmp_path, tiny_cfg):
    # 3 -> 128 (too few input channels), 128 -> 128 (Winograd), then the 1x1 head
    cfg = tiny_cfg.write(tmp_path / "wide.cfg", body=[(128, 2), (128, 0)], width=64, height=64)
    net = darkpy.load_network(cfg, device="cpu", seed=3)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    fast, plain = Predictor(net, device="cpu"), Predictor(net, device="cpu", winograd=False)
    kinds = [type(l.packed).__name__ for l in fast.model.blocks if isinstance(l, FusedConv)]
    assert kinds == ["OneDnnConv", "Winograd3x3", "OneDnnConv"]
    assert all(type(l.packed).__name__ == "OneDnnConv" for l in plain.model.blocks if isinstance(l, FusedConv))
    a, b = fast(x)[0], plain(x)[0]
    assert (a - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())
    bf16 = Predictor(net, device="cpu", precision="bf16")   # Winograd is fp32 only
    assert not any(isinstance(l.packed, wg.Winograd3x3) for l in bf16.model.blocks if isinstance(l, FusedConv))
