"""`--engine` on `recall`, `valid` and `map DATA CFG WEIGHTS` (issue 24, item 5): the torch-free
engine gives the torch engine's printed numbers on the demo set, and `recall` under the auto
rule never imports torch."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from darkpy.assets import ROOT

DEMO = [ROOT / "data" / "demo" / "demo.data", ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights"]


def test_recall_lines_are_the_same_on_both_engines(cli):
    outs = {}
    for engine in ("numpy", "torch"):
        code, out, err = cli("recall", *DEMO, "--engine", engine, "--workers", "0")
        assert code == 0, out + err
        outs[engine] = out
    assert outs["numpy"] == outs["torch"]
    assert len(outs["numpy"].splitlines()) == 13  # 12 running lines and the summary
    assert "recall 0.8846 (23/26 objects" in outs["numpy"]


def test_map_table_is_the_same_on_both_engines(cli, tmp_path):
    outs = {}
    for engine in ("numpy", "torch"):
        code, out, err = cli("map", *DEMO, "--engine", engine, "--workers", "0", "-o", tmp_path / engine)
        assert code == 0, out + err
        lines = out.splitlines()
        assert lines[-1].startswith("12 images in ")  # the timing line differs by nature
        outs[engine] = lines[:-1]
    assert outs["numpy"] == outs["torch"]
    assert any(line.startswith("mAP VOC07 11-point = ") for line in outs["numpy"])


def test_valid_writes_the_same_detections_on_both_engines(cli, tmp_path):
    rows = {}
    for engine in ("numpy", "torch"):
        code, out, err = cli("valid", *DEMO, "--engine", engine, "--workers", "0", "-o", tmp_path / engine)
        assert code == 0, out + err
        rows[engine] = {f.name: [line.split() for line in f.read_text().splitlines()]
                        for f in sorted((tmp_path / engine).iterdir())}
    assert rows["numpy"].keys() == rows["torch"].keys() and len(rows["numpy"]) == 3
    for name, a in rows["numpy"].items():
        b = rows["torch"][name]
        assert [r[0] for r in a] == [r[0] for r in b]  # the same boxes, in the same order
        for ra, rb in zip(a, b):  # fp32 forwards of two libraries: equal to the printed 5th digit
            assert all(abs(float(x) - float(y)) <= 2e-5 * max(1.0, abs(float(y))) for x, y in zip(ra[1:], rb[1:]))


def test_engine_numpy_on_a_gpu_device_is_refused(cli):
    code, out, err = cli("recall", *DEMO, "--engine", "numpy", "--device", "cuda")
    assert code == 2
    assert "--engine numpy runs on the CPU only" in out + err


def test_unknown_engine_is_a_usage_error(cli):
    code, out, err = cli("recall", *DEMO, "--engine", "jax")
    assert code == 2
    assert "--engine must be one of auto, torch, numpy" in out + err


@pytest.mark.parametrize("command", ["recall", "valid", "map"])
def test_engine_is_documented_in_help(cli, command):
    code, out, err = cli(command, "--help")
    assert code == 0 and "--engine" in out


def test_recall_on_the_demo_set_does_not_import_torch(tmp_path):
    from darkpy.detect.numpy_engine import cuda_may_be_wanted

    if cuda_may_be_wanted(None):
        pytest.skip("torch would run on CUDA here: the auto rule takes torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "darkpy", "recall", *map(str, DEMO), "-q"],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "recall 0.8846 (23/26 objects" in run.stdout
    mods = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time")}
    assert "darkpy.net.numpy_forward" in mods
    assert "torch" not in mods
