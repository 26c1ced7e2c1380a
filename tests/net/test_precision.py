"""--precision: what `auto` picks, and the accuracy guard for bf16 (it must not change what a
detector finds). Golden parity tests elsewhere stay fp32."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import darkpy
from darkpy.assets import ROOT
from darkpy.errors import UsageError
from darkpy.net import precision as prec
from darkpy.net.inference import FusedConv, Predictor

DEMO_CFG = ROOT / "cfg" / "demo.cfg"
DEMO_WEIGHTS = ROOT / "data" / "demo" / "demo.weights"
DEMO_LIST = ROOT / "data" / "demo" / "valid.txt"


def test_explicit_precisions_and_aliases():
    assert prec.resolve_precision("fp32", "cpu") == torch.float32
    assert prec.resolve_precision("BF16", "cpu") == torch.bfloat16
    assert prec.resolve_precision("half", "cpu") == torch.float16
    assert prec.resolve_precision(torch.bfloat16, "cpu") == torch.bfloat16
    with pytest.raises(UsageError, match="unknown precision 'fp8'"):
        prec.resolve_precision("fp8", "cpu")


@pytest.mark.parametrize("flags, mkldnn", [
    ({"avx2", "avx512f"}, True),
    ({"avx512f", "avx512_bf16"}, True),       # Zen 4/5, Cooper Lake: bf16 is fast but asked for
    ({"amx_bf16", "amx_tile"}, True),         # Sapphire Rapids and later
    ({"amx_bf16"}, False),
    (set(), True),
])
def test_auto_on_cpu_is_fp32_whatever_the_cpu(monkeypatch, flags, mkldnn):
    """Darknet's numbers by default (issue 20): bf16 is opt-in even where the CPU runs it natively."""
    monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: mkldnn, raising=False)
    assert prec.resolve_precision("auto", "cpu") == torch.float32
    assert prec.resolve_precision(None, torch.device("cpu")) == torch.float32


def test_auto_on_cuda_is_fp16_without_a_gpu():
    """CUDA placement is decided on the CPU side; no GPU is needed to check the choice."""
    assert prec.resolve_precision("auto", torch.device("cuda")) == torch.float16
    assert prec.resolve_precision("auto", torch.device("cuda:1")) == torch.float16


def test_cpu_summary_names_the_cpu():
    line = prec.cpu_summary()
    assert "cores" in line and "flags" in line


def test_default_predictor_stays_fp32_on_cpu():
    net = darkpy.load_network(DEMO_CFG, DEMO_WEIGHTS, device="cpu")
    p = Predictor(net, device="cpu")
    assert p.dtype == torch.float32 and p.precision == "fp32"
    assert Predictor(net, device="cpu", half=True).dtype == torch.float16


def test_bf16_body_keeps_an_fp32_head_and_returns_fp32():
    net = darkpy.load_network(DEMO_CFG, DEMO_WEIGHTS, device="cpu")
    p = Predictor(net, device="cpu", precision="bf16")
    convs = [l for l in p.model.blocks if isinstance(l, FusedConv)]
    assert convs[0].weight.dtype == torch.bfloat16
    assert convs[-1].weight.dtype == torch.float32  # feeds the [region] layer
    out = p(torch.rand(1, 3, 96, 96))
    assert all(o.dtype == torch.float32 for o in out)
    # uint8 input is scaled by 1/255 like Darknet's loader
    u8 = torch.randint(0, 256, (1, 3, 96, 96), dtype=torch.uint8)
    f32 = Predictor(net, device="cpu")
    a, b = f32(u8)[0], f32(u8.float() / 255.0)[0]
    assert torch.equal(a, b)


def _iou(a, b) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def test_bf16_finds_what_fp32_finds_on_the_demo_images():
    """Accuracy guard: same detections, IoU >= 0.95, confidence within 0.02. Runs bf16 even on a
    CPU without native bf16 (emulated: slow but exact to bf16 rounding; the demo net is small)."""
    from darkpy.detect.pipeline import detect_images
    from darkpy.formats.datafile import read_list

    paths = [str(ROOT / p) for p in read_list(DEMO_LIST)]
    net = darkpy.load_network(DEMO_CFG, DEMO_WEIGHTS, device="cpu")
    runs = {}
    for name in ("fp32", "bf16"):
        p = Predictor(net, device="cpu", precision=name)
        runs[name] = {path: dets for path, _, dets in detect_images(p, paths, thresh=0.25, batch=4)}
    assert len(runs["fp32"]) == len(paths)
    total = 0
    for path in paths:
        a, b = runs["fp32"][path], runs["bf16"][path]
        assert len(a) == len(b), path
        for da in a:
            match = max(b, key=lambda db: _iou(da, db) if db.cls == da.cls else -1.0)
            assert match.cls == da.cls and _iou(da, match) >= 0.95, path
            assert abs(match.prob - da.prob) <= 0.02, path
            total += 1
    assert total > 0


def test_bf16_map_on_the_demo_set_within_0005(monkeypatch):
    from darkpy.eval import evaluate
    from darkpy.eval.groundtruth import gt_from_labels
    from darkpy.eval.run import run_detector, valid_setup

    monkeypatch.chdir(ROOT)  # the .data file names its list relative to the repository, as Darknet
    setup = valid_setup(ROOT / "data" / "demo" / "demo.data")
    net = darkpy.load_network(DEMO_CFG, DEMO_WEIGHTS, device="cpu")
    maps = {}
    for name in ("fp32", "bf16"):
        p = Predictor(net, device="cpu", precision=name)
        result = run_detector(net, setup.entries, base=setup.list_path.parent, predictor=p, progress=False)
        truth = gt_from_labels(setup.list_path, setup.names, sizes=result.sizes, entries=result.entries)
        maps[name] = evaluate(result.dets, truth, "voc").map
    print(maps)
    assert maps["fp32"] > 0.1
    assert abs(maps["bf16"] - maps["fp32"]) <= 0.005, maps
