"""Issue 25: which engine `darkpy detect` runs is asked of torch, never of PATH, and the numpy
engine stays torch-free where torch could not use a GPU anyway."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from darkpy.assets import ROOT
from darkpy.detect import numpy_engine as ne
from darkpy.errors import UsageError


def test_explicit_devices_decide():
    assert ne.choose_engine("auto", 1, "auto", "cuda") == "torch"
    assert ne.choose_engine("auto", 1, "auto", "0") == "torch"
    assert ne.choose_engine("auto", 1, "auto", "cpu") == "numpy"
    assert ne.choose_engine("numpy", 1, "auto", "cpu:0") == "numpy"


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "1"])
def test_numpy_engine_with_a_gpu_is_refused(device):
    with pytest.raises(UsageError, match=f"--engine numpy runs on the CPU only, but --device {device}"):
        ne.choose_engine("numpy", 1, "auto", device)


def test_auto_asks_torch_once_it_is_imported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ne.choose_engine("auto", 1, "auto", None) == "torch"
    assert ne.choose_engine("auto", 1, "auto", "auto") == "torch"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ne.choose_engine("auto", 1, "auto", None) == "numpy"


def test_build_record_matches_torch():
    assert ne.torch_build_has_gpu() == (torch.version.cuda is not None or torch.version.hip is not None)


@pytest.mark.skipif(torch.version.cuda is not None or torch.version.hip is not None,
                    reason="this torch has a GPU build: auto imports torch to ask it")
def test_nvidia_smi_on_path_does_not_choose_and_torch_is_not_imported(tmp_path):
    """A CPU-only torch cannot use a GPU whatever PATH holds: numpy, without importing torch."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(ROOT))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    code = ("import sys; from darkpy.detect.numpy_engine import choose_engine; "
            "print(choose_engine('auto', 1, 'auto', None), 'torch' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["numpy", "False"]
