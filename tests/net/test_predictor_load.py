"""`Predictor.load`: a bf16/fp16 network read, folded and converted one layer at a time (issue 24,
peak memory) gives the very tensors and outputs of folding a whole loaded network, and refuses
bad files with the same lines."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import darkpy
from darkpy.errors import WeightsError
from darkpy.net.inference import Predictor
from tests.net.zero_variance import ZERO_VARIANCE_CFG

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
GOLDEN_CASES = [(GOLDEN / "cfg" / f"{p.name}.cfg", p / "weights") for p in sorted((GOLDEN / "forward").iterdir())]
DEMO = (ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights")


def _whole(cfg, weights, precision, device="cpu"):
    """Today's route: the whole network loaded (parameters alias the file), then folded in place."""
    return Predictor(darkpy.load_network(cfg, weights, device=device), device=device, precision=precision,
                     inplace=True)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8)


def _assert_same(a: Predictor, b: Predictor) -> None:
    assert a.kept_fp32 == b.kept_fp32 and a.dtype == b.dtype and a.precision == b.precision
    assert [type(l) for l in a.model.blocks] == [type(l) for l in b.model.blocks]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        x, y = sa[key], sb[key]
        assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride(), key
        assert x.device == y.device, key
        if x.device.type != "meta":   # a packed weight lives in its oneDNN context: outputs compared
            assert torch.equal(_bits(x), _bits(y)), key
    assert a.net.header == b.net.header
    assert str(a.net.last_load) == str(b.net.last_load)


def _input(p: Predictor, n: int = 2) -> torch.Tensor:
    c, h, w = p.net.input_shape
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("cfg,weights", [DEMO] + GOLDEN_CASES,
                         ids=lambda p: p.parent.name if p.name == "weights" else p.stem)
def test_layer_by_layer_bf16_is_bit_identical(cfg, weights):
    new, old = Predictor.load(cfg, weights, device="cpu", precision="bf16"), _whole(cfg, weights, "bf16")
    _assert_same(new, old)
    if new.net.detection_layers:
        x = _input(new)
        for u, v in zip(new(x), old(x)):
            assert torch.equal(_bits(u), _bits(v))


def test_channels_last_weights_and_fp32_heads():
    p = Predictor.load(*DEMO, device="cpu", precision="bf16")
    convs = [l for l in p.model.blocks if hasattr(l, "weight")]
    head = p.model.blocks[p.net.detection_layers[0].index - 1]
    assert head.weight.dtype == torch.float32
    body = [l for l in convs if l is not head]
    assert body and all(l.weight.dtype == torch.bfloat16 for l in body)
    assert all(l.weight.is_contiguous(memory_format=torch.channels_last) for l in body if l.weight.dim() == 4)


OVERFLOW_CFG = ZERO_VARIANCE_CFG   # its layer 0 gets a channel of variance 0 below


def _overflow_files(tmp_path):
    """Layer 0 has a channel of variance 0: folded, its weights are 2e5, beyond fp16."""
    cfg = tmp_path / "zero_var.cfg"
    cfg.write_text(OVERFLOW_CFG)
    net = darkpy.load_network(cfg, device="cpu", seed=0)
    with torch.no_grad():
        net.blocks[0].weight[0] = 0.2
        net.blocks[0].rolling_variance[0] = 0.0
        net.blocks[0].rolling_mean[0] = 0.3
    return cfg, net.save_weights(tmp_path / "zero_var.weights")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_overflowing_layer_is_kept_in_fp32_the_same_way(tmp_path, precision):
    cfg, weights = _overflow_files(tmp_path)
    new, old = Predictor.load(cfg, weights, device="cpu", precision=precision), _whole(cfg, weights, precision)
    _assert_same(new, old)
    assert new.kept_fp32 == ([0] if precision == "fp16" else [])
    assert new.notes == old.notes
    x = torch.full((1, 3, 16, 16), 0.5)
    assert torch.equal(new(x)[0], old(x)[0]) and torch.isfinite(new(x)[0]).all()


def test_fp32_and_random_weights_give_the_whole_network_routes_predictor():
    """fp32 is read layer by layer too when its weights are packed (the CPU default), whole when not."""
    p, whole = Predictor.load(*DEMO, device="cpu", precision="fp32"), _whole(*DEMO, "fp32")
    assert p.pack and whole.pack
    _assert_same(p, whole)
    x = _input(p)
    for u, v in zip(p(x), whole(x)):
        assert torch.equal(_bits(u), _bits(v))
    _assert_same(Predictor.load(*DEMO, device="cpu", precision="fp32", pack=False),
                 Predictor(darkpy.load_network(*DEMO, device="cpu"), device="cpu", inplace=True, pack=False))
    r = Predictor.load(DEMO[0], None, device="cpu", precision="bf16")
    _assert_same(r, Predictor(darkpy.load_network(DEMO[0], device="cpu"), device="cpu", precision="bf16",
                              inplace=True))


def _error(fn) -> str:
    with pytest.raises(WeightsError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("cut", [-40, 40])
def test_truncated_or_oversized_file_gives_the_same_line(tmp_path, cut):
    cfg, weights = DEMO
    data = weights.read_bytes()
    bad = tmp_path / "bad.weights"
    bad.write_bytes(data[:cut] if cut < 0 else data + bytes(cut))
    new = _error(lambda: Predictor.load(cfg, bad, device="cpu", precision="bf16"))
    assert new == _error(lambda: _whole(cfg, bad, "bf16"))
    assert ("truncated" if cut < 0 else "left over") in new


def _nan_file(tmp_path) -> tuple[Path, Path]:
    cfg, weights = DEMO
    floats = np.fromfile(weights, dtype=np.uint8)
    body = floats[20:].view("<f4").copy()
    body[5] = np.nan                      # layer 0's biases
    bad = tmp_path / "nan.weights"
    bad.write_bytes(floats[:20].tobytes() + body.tobytes())
    return cfg, bad


def test_nan_weights_warn_and_strict_refuses_with_the_same_lines(tmp_path, monkeypatch):
    cfg, bad = _nan_file(tmp_path)
    lines = []
    for load in (lambda: Predictor.load(cfg, bad, device="cpu", precision="bf16"), lambda: _whole(cfg, bad, "bf16")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load()
        lines.append([str(w.message) for w in caught if "NaN" in str(w.message)])
    assert lines[0] == lines[1] and len(lines[0]) == 1 and "layer 0" in lines[0][0]
    monkeypatch.setenv("DARKPY_STRICT", "1")
    new = _error(lambda: Predictor.load(cfg, bad, device="cpu", precision="bf16"))
    assert new == _error(lambda: _whole(cfg, bad, "bf16")) and "--strict" in new


def test_detector_from_paths_uses_the_layer_by_layer_load(monkeypatch):
    from darkpy.detect.detector import Detector
    from darkpy.detect.options import DetectOptions
    from darkpy.net import inference

    called = []
    real = inference.Predictor._load_converted

    def spy(self, net, weights):
        called.append(weights)
        return real(self, net, weights)

    monkeypatch.setattr(inference.Predictor, "_load_converted", spy)
    image = str(ROOT / "data" / "demo" / "images" / sorted(p.name for p in (ROOT / "data/demo/images").iterdir())[0])
    new = Detector(*DEMO, DetectOptions(precision="bf16", device="cpu")).detect([image])[0]
    assert called == [DEMO[1]]
    old = Detector(_whole(*DEMO, "bf16"), options=DetectOptions(precision="bf16", device="cpu")).detect([image])[0]
    assert [d.to_dict() for d in new.detections] == [d.to_dict() for d in old.detections]


def test_each_layer_is_converted_before_the_next_is_read(monkeypatch):
    """The point of the layer-by-layer load: no second float32 layer is in memory while the one
    before it is still float32 (the heads excepted, which stay float32 by design)."""
    from darkpy.net import inference

    nets, seen = [], []
    real_parse, real_read = inference.parse_network, inference.read_layers

    def parse(*a, **k):
        nets.append(real_parse(*a, **k))
        return nets[-1]

    def read(plan, *a, **k):
        for spec, floats in real_read(plan, *a, **k):
            done = [l for l in nets[0].blocks[:spec.index] if getattr(l, "weight", None) is not None]
            seen.append([l.weight.dtype for l in done])
            yield spec, floats

    monkeypatch.setattr(inference, "parse_network", parse)
    monkeypatch.setattr(inference, "read_layers", read)
    cfg, weights = next(c for c in GOLDEN_CASES if c[1].parent.name == "g_yolov2_mini")
    p = Predictor.load(cfg, weights, device="cpu", precision="bf16")
    heads = {l.index - 1 for l in p.net.detection_layers}
    assert len(seen) == sum(1 for l in p.model.blocks if getattr(l, "weight", None) is not None)
    for dtypes in seen:
        assert all(d == torch.bfloat16 for d in dtypes[:min(heads)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_fp16_layer_by_layer_is_bit_identical():
    new, old = Predictor.load(*DEMO, device="cuda", precision="fp16"), _whole(*DEMO, "fp16", device="cuda")
    _assert_same(new, old)
    x = _input(new)
    for u, v in zip(new(x), old(x)):
        assert torch.equal(_bits(u), _bits(v))
