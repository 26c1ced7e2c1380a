"""CPU training keeps freed memory for the next step (darkpy.train.heap), unless told not to."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = "from darkpy.train.heap import keep_freed_memory as k; print(k(), k())"


def _run(**env) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    full.pop("DARKPY_KEEP_FREED_MEMORY", None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", CODE], env=full, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_keeps_freed_memory_once_asked():
    assert _run() == "True True"


@pytest.mark.parametrize("env", [{"DARKPY_KEEP_FREED_MEMORY": "0"}, {"MALLOC_MMAP_MAX_": "65536"},
                                 {"MALLOC_TRIM_THRESHOLD_": "131072"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}])
def test_a_users_malloc_setting_is_left_alone(env):
    assert _run(**env) == "False False"


def test_the_trainer_asks_for_it_when_it_trains_on_the_cpu(monkeypatch, tmp_path, tiny_cfg):
    from darkpy.net.model import load_network
    from darkpy.train import engine
    from toy import ToyTask

    calls = []
    monkeypatch.setattr(engine, "keep_freed_memory", lambda: calls.append(1) or True)
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=0, burn_in=0)
    engine.Trainer(load_network(cfg, device="cpu", seed=0), ToyTask(), name="toy", backup_dir=tmp_path / "b",
                   device="cpu", max_batches=1, quiet=True).run()
    assert calls == [1]
