"""numpy's BLAS threads: the CLI starts OpenBLAS on one thread unless the user chose a count,
small networks run on one thread, large ones on every core."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from darkpy.net import blas

ROOT = Path(__file__).resolve().parents[2]
CHECK = ("import os, sys, types\nfrom darkpy.net.blas import start_single_threaded, blas_threads, blas_threads_for\n"
         "started = start_single_threaded()\n"
         "with blas_threads_for(types.SimpleNamespace(bflops=29.4)):\n    large = blas_threads()\n"
         "print(started, os.environ.get('OPENBLAS_NUM_THREADS'), blas_threads(), large)\n")


def _start(**env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                                            "OMP_NUM_THREADS")}
    env.update(PYTHONPATH=str(ROOT), **env_extra)
    r = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_cli_start_holds_openblas_to_one_thread_unless_the_user_chose():
    started, value, threads, large = _start()
    assert (started, value) == ("True", "1")
    assert threads in ("1", "None")   # None: numpy's BLAS is not an OpenBLAS found in this process
    if threads == "1":   # a large network gets every core the process may use, then one again
        assert int(large) == len(os.sched_getaffinity(0))
    assert _start(OMP_NUM_THREADS="2")[:2] == ["False", "None"]
    assert _start(OPENBLAS_NUM_THREADS="3")[:2] == ["False", "3"]


def test_start_does_nothing_once_numpy_is_loaded():
    import numpy  # noqa: F401

    assert blas.start_single_threaded() is False


def test_small_networks_run_on_one_thread_and_the_count_comes_back():
    before = blas.blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS here is not an OpenBLAS this process can find")
    with blas.blas_threads_for(SimpleNamespace(bflops=0.03)):
        assert blas.blas_threads() == 1
    assert blas.blas_threads() == before
    with blas.raise_blas_threads(before + 1):
        assert blas.blas_threads() == before + 1
    assert blas.blas_threads() == before
    with blas.blas_threads_for(SimpleNamespace(bflops=29.4)):
        assert blas.blas_threads() >= before
    assert blas.blas_threads() == before
