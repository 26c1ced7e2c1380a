"""`--precision` on the inference commands; folders batch by default."""
from __future__ import annotations

import json

import pytest
import torch

from darkpy.assets import ROOT

DEMO = ["--cfg", ROOT / "cfg" / "demo.cfg", "--weights", ROOT / "data" / "demo" / "demo.weights",
        "--names", ROOT / "data" / "demo" / "demo.names"]
IMAGES = ROOT / "data" / "demo" / "images"


def _rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_detect_fp32_and_bf16_agree_on_the_demo_folder(cli, tmp_path):
    runs = {}
    for p in ("fp32", "bf16"):
        code, out, err = cli("detect", IMAGES, *DEMO, "--json", "--no-save", "--thresh", "0.25",
                             "--precision", p)
        assert code == 0, out + err
        runs[p] = _rows(out)
    assert len(runs["fp32"]) == 12
    for a, b in zip(runs["fp32"], runs["bf16"]):
        assert a["image"] == b["image"]
        assert [d["class"] for d in a["detections"]] == [d["class"] for d in b["detections"]]
        for da, db in zip(a["detections"], b["detections"]):
            assert abs(da["confidence"] - db["confidence"]) <= 0.02


def test_bad_precision_is_one_line(cli):
    code, out, err = cli("detect", IMAGES / "001988.jpg", *DEMO, "--precision", "fp8", "--no-save")
    assert code == 2 and "unknown precision 'fp8'" in out + err


def test_folder_batches_by_two_on_a_cpu_by_default(cli, monkeypatch):
    from darkpy.net import inference

    seen = []
    call = inference.Predictor.__call__

    def spy(self, x):
        seen.append(x.shape[0])
        return call(self, x)

    monkeypatch.setattr(inference.Predictor, "__call__", spy)
    code, out, err = cli("detect", IMAGES, *DEMO, "--json", "--no-save", "--precision", "fp32")
    assert code == 0, out + err
    assert seen == [2] * 6   # 12 demo images, two passes at once (8 on a GPU: tests/cli/test_detect_cli.py)
    seen.clear()
    code, out, err = cli("detect", IMAGES, *DEMO, "--json", "--no-save", "--precision", "bf16")
    assert code == 0 and seen == [1] * 12
    seen.clear()
    code, out, err = cli("detect", IMAGES / "001988.jpg", *DEMO, "--json", "--no-save", "--engine", "torch")
    assert code == 0 and seen == [1]


@pytest.mark.parametrize("command", ["valid", "recall", "map", "benchmark"])
def test_precision_flag_is_offered(cli, command):
    code, out, err = cli(command, "--help")
    assert code == 0 and "--precision" in out


def test_benchmark_reports_the_precision(cli, golden):
    code, out, err = cli("benchmark", golden / "cfg" / "g_tiny_mini.cfg", "--sizes", "64", "--iters", "1",
                         "--device", "cpu", "--matmul-size", "128", "--precision", "bf16")
    assert code == 0, out + err
    assert "bf16" in out


def test_map_on_the_demo_set_fp32_vs_bf16_within_0005(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    maps = {}
    for p in ("fp32", "bf16"):
        out_dir = tmp_path / p
        code, out, err = cli("map", ROOT / "data" / "demo" / "demo.data", ROOT / "cfg" / "demo.cfg",
                             ROOT / "data" / "demo" / "demo.weights", "--metric", "voc", "--out", out_dir,
                             "--workers", "0", "--precision", p)
        assert code == 0, out + err
        maps[p] = json.loads((out_dir / "map.json").read_text())["voc_area"]["mAP"]
    assert abs(maps["fp32"] - maps["bf16"]) <= 0.005, maps


def test_detect_compile_gives_the_eager_detections(cli):
    runs = {}
    for extra in ([], ["--compile"]):
        code, out, err = cli("detect", IMAGES, *DEMO, "--json", "--no-save", "--precision", "fp32", *extra)
        assert code == 0, out + err
        runs[bool(extra)] = _rows(out)
    for a, b in zip(runs[False], runs[True]):
        assert [d["class"] for d in a["detections"]] == [d["class"] for d in b["detections"]]
        for da, db in zip(a["detections"], b["detections"]):
            assert abs(da["confidence"] - db["confidence"]) <= 1e-4


def test_default_precision_gives_the_same_detections_for_1_and_6_images_and_fp32(cli):
    """Issue 20: the default is Darknet's fp32 whatever the image count, so the numpy engine (1
    image), the torch engine (6 images, batched) and --precision fp32 print the same detections."""
    six = sorted(IMAGES.glob("*.jpg"))[:6]
    one = six[0]
    runs = {}
    for key, args in (("one", [one]), ("six", six), ("fp32", [*six, "--precision", "fp32"])):
        code, out, err = cli("detect", *args, *DEMO, "--json", "--no-save", "--thresh", "0.1")
        assert code == 0, out + err
        assert "bf16" not in err and "fp16" not in err
        runs[key] = {r["image"]: r["detections"] for r in _rows(out)}
    assert len(runs["six"]) == 6
    for other in ("six", "fp32"):
        for image in runs["one"] if other == "six" else runs["six"]:
            a, b = runs["one" if other == "six" else "six"][image], runs[other][image]
            assert [d["class"] for d in a] == [d["class"] for d in b], image
            for da, db in zip(a, b):
                assert abs(da["confidence"] - db["confidence"]) <= 1e-5
                assert all(abs(u - v) <= 0.02 for u, v in zip(da["box"], db["box"])), image


def test_a_bf16_run_says_so(cli):
    code, out, err = cli("detect", IMAGES / "001988.jpg", *DEMO, "--no-save", "--precision", "bf16")
    assert code == 0, out + err
    assert "bf16" in err


@pytest.mark.parametrize("flags", [["--half"], ["--precision", "fp16", "--device", "cpu"]])
def test_fp16_on_the_cpu_is_refused_in_one_line(cli, flags):
    """Issue 25: fp16 has no CPU math (~4x slower than bf16): refused, not run."""
    if torch.cuda.is_available() and "--device" not in flags:
        pytest.skip("--half picks the GPU here")
    code, out, err = cli("detect", IMAGES / "001988.jpg", *DEMO, *flags, "--no-save")
    assert code == 2, out + err
    assert "fp16 (--half / --precision fp16) is for CUDA" in out + err and "Traceback" not in out + err


def test_numpy_engine_with_a_cuda_device_is_refused(cli):
    code, out, err = cli("detect", IMAGES / "001988.jpg", *DEMO, "--engine", "numpy", "--device", "cuda", "--no-save")
    assert code == 2 and "--engine numpy runs on the CPU only" in out + err
