"""Start-up cost: `darkpy --help` must not import torch or OpenCV (seconds on a small machine)."""
from __future__ import annotations

import os
import subprocess
import sys

from darkpy.assets import ROOT


def _imported(args: list[str]) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "darkpy", *args], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stderr.splitlines()
    return {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time")}


def test_help_imports_neither_torch_nor_cv2():
    mods = _imported(["--help"])
    assert "typer" in mods
    assert "torch" not in mods and "cv2" not in mods


def test_detect_help_imports_neither_torch_nor_cv2():
    mods = _imported(["detect", "--help"])
    assert "torch" not in mods and "cv2" not in mods


def test_train_without_data_answers_before_importing_torch():
    """Issue 20: `darkpy train CFG` without --data is a usage error found before torch is imported
    (it took 6-10 s), and it names the commands that make a .data file."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "darkpy", "train", str(ROOT / "cfg" / "yolov2-voc.cfg")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert "darkpy data voc" in run.stderr
    mods = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time")}
    assert "torch" not in mods
