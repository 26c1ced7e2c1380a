"""SIGTERM a real `darkpy train` process mid-run, `--resume` it: the final weights are the bytes
an uninterrupted run with the same seed writes (data, sizes and rates are functions of the seed
and batch number; momentum, RNG and the running loss come back from NAME.backup.state)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from darkpy.data.synth import generate


def _cmd(cfg, data, backup, *extra):
    return [sys.executable, "-u", "-m", "darkpy", "train", str(cfg), "--data", str(data), "--max-batches", "14",
            "--workers", "1", "--backup", str(backup), "--name", "t", "--seed", "7", *extra]


@pytest.mark.slow
def test_sigterm_then_resume_equals_uninterrupted(tmp_path, tiny_cfg):
    data = generate(tmp_path / "set", images=6, classes=3, size=64, seed=0)
    cfg = tiny_cfg(tmp_path / "tiny.cfg")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    whole = subprocess.run(_cmd(cfg, data, tmp_path / "whole"), capture_output=True, text=True, env=env,
                           timeout=300)
    assert whole.returncode == 0, whole.stderr

    proc = subprocess.Popen(_cmd(cfg, data, tmp_path / "part"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines = []
    for line in proc.stdout:   # stop once batch 4 is done
        lines.append(line)
        if line.startswith("4: "):
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=300)[0]
    out = "".join(lines) + rest
    assert proc.returncode != 0, out
    assert "Stopped at batch" in out and (tmp_path / "part" / "t.backup.state").exists()
    assert not (tmp_path / "part" / "t_final.weights").exists()

    resumed = subprocess.run(_cmd(cfg, data, tmp_path / "part", "--resume"), capture_output=True, text=True,
                             env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from" in resumed.stdout
    a = (tmp_path / "whole" / "t_final.weights").read_bytes()
    b = (tmp_path / "part" / "t_final.weights").read_bytes()
    assert a == b
