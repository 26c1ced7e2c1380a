"""The `darkpy` process leaves through os._exit once torch is loaded (darkpy.cli.process_exit):
what ordinary shutdown would have done that matters must still happen."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from darkpy.cli.process_exit import exit_status

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("code, status", [(None, 0), (0, 0), (2, 2), (130, 130), (True, 1), (-1, 255)])
def test_exit_status_is_what_sys_exit_gives(code, status):
    assert exit_status(code) == status


def test_a_message_is_printed_and_gives_1(capsys):
    assert exit_status("went wrong") == 1
    assert "went wrong" in capsys.readouterr().err


SCRIPT = textwrap.dedent("""
    import atexit, sys, threading, time
    from pathlib import Path
    import torch  # the fast way out applies only once torch is loaded
    from darkpy.cli.process_exit import fast_exit_applies, leave

    out = Path(sys.argv[1])
    def late():
        time.sleep(0.3)
        (out / "thread").write_text("joined")
    threading.Thread(target=late).start()              # not a daemon: joined before leaving
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    sys.stdout.write("buffered, not yet flushed")       # stdout is a pipe: block-buffered
    print("fast" if fast_exit_applies() else "slow", file=sys.stderr)
    leave(3)
""")


@pytest.mark.parametrize("fast", ["1", "0"])
def test_threads_atexit_and_buffers_are_finished_and_the_status_kept(tmp_path, fast):
    env = dict(os.environ, PYTHONPATH=str(ROOT), DARKPY_FAST_EXIT=fast)
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().endswith("fast" if fast == "1" else "slow")
    assert r.stdout == "buffered, not yet flushed"
    assert (tmp_path / "thread").read_text() == "joined"
    assert (tmp_path / "atexit").read_text() == "ran"


def test_the_command_keeps_its_exit_codes_and_output(tmp_path):
    demo = ["--cfg", str(ROOT / "cfg" / "demo.cfg"), "--weights", str(ROOT / "data" / "demo" / "demo.weights"),
            "--names", str(ROOT / "data" / "demo" / "demo.names"), "--engine", "torch", "--precision", "fp32"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    image = ROOT / "data" / "demo" / "images" / "001988.jpg"
    ok = subprocess.run([sys.executable, "-m", "darkpy", "detect", str(image), *demo, "--out", str(tmp_path / "o"),
                         "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith("}") or ok.stdout.rstrip().endswith("]")   # the whole JSON arrived
    assert (tmp_path / "o" / "001988.jpg").stat().st_size > 0
    bad = subprocess.run([sys.executable, "-m", "darkpy", "detect", str(tmp_path / "missing.jpg"), *demo,
                          "--out", str(tmp_path / "o2")], env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "could be read" in bad.stderr and "Traceback" not in bad.stderr
