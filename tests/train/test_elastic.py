"""Process groups that survive (darkpy.train.elastic), on loopback with real `darkpy train`
processes: a torchrun restart resumes by itself to the uninterrupted run's bytes, a lost peer is
one line on the survivor, rank 1 needs no backup folder, the --ddp-cpu launcher waits for its
ranks and reports their errors as one line.

Small on purpose (CI has 2 cores): the demo cfg at batch 4 (2 images per rank), a 12-image
synthetic set, 6 batches with a backup every 2, OMP_NUM_THREADS=1 for bit-exact sums.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from darkpy.data.synth import generate
from darkpy.train import distributed as dd

CFG = Path(__file__).resolve().parents[2] / "cfg" / "demo.cfg"
TIMEOUT = 300


def _env(**extra) -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)


def _args(data, backup, max_batches, *extra) -> list[str]:
    return ["train", str(CFG), "--data", str(data), "--workers", "0", "--seed", "0", "--batch", "4",
            "--max-batches", str(max_batches), "--backup-every", "2", "--backup", str(backup), *extra]


def _darkpy(*args) -> list[str]:
    return [sys.executable, "-u", "-m", "darkpy", *args]


def _static_pair(backups, max_batches, data, *extra, kill_rank1_after: str | None = None):
    """Two ranks started by hand (two "nodes" on loopback, no torchrun): [(rc, stdout, stderr)]."""
    port = str(dd.free_port())
    procs = []
    for rank, backup in enumerate(backups):
        env = _env(RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(subprocess.Popen(_darkpy(*_args(data, backup, max_batches, *extra)), env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    head, killed_at = "", None
    if kill_rank1_after is not None:
        for line in procs[0].stdout:
            head += line
            if line.startswith(kill_rank1_after):
                procs[1].kill()
                killed_at = time.monotonic()
                break
    out = []
    for p in procs:
        o, e = p.communicate(timeout=TIMEOUT)
        out.append((p.returncode, o, e))
        if killed_at is not None and p is procs[0]:
            killed_at = time.monotonic() - killed_at    # seconds the survivor took to end
    if kill_rank1_after is not None:
        out[0] = (out[0][0], head + out[0][1], out[0][2])
    return out, killed_at


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("elastic")
    return generate(root / "set", images=12, classes=3, size=64, seed=0)


@pytest.fixture(scope="module")
def reference(data):
    """The uninterrupted two-process run's final weights."""
    folder = data.parent.parent / "whole"
    runs, _ = _static_pair([folder, folder.with_name("whole-rank1")], 6, data)
    for rc, out, err in runs:
        assert rc == 0, out + err
    return (folder / "demo_final.weights").read_bytes()


def _worker_pids(pid: int) -> list[int]:
    """The agent's children (whichever of its threads started them), in start order."""
    kids = {int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()}
    return sorted(kids)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds torchrun's workers through /proc")
def test_a_worker_killed_under_torchrun_restarts_and_resumes_to_the_same_weights(data, reference, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--max-restarts", "1", "-m", "darkpy", *_args(data, tmp_path / "b", 6)]
    proc = subprocess.Popen(cmd, env=_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = ""
    for line in proc.stdout:            # batch 3 printed: the batch-2 backup is complete
        seen += line
        if line.startswith("3: "):
            os.kill(_worker_pids(proc.pid)[-1], signal.SIGKILL)
            break
    rest = proc.communicate(timeout=TIMEOUT)[0]
    out = seen + rest
    assert proc.returncode == 0, out
    assert "Restarted by torchrun: resuming by itself" in out
    assert "batches 2..6" in out
    assert (tmp_path / "b" / "demo_final.weights").read_bytes() == reference


@pytest.mark.slow
def test_a_lost_peer_ends_the_survivor_with_one_line(data, tmp_path):
    runs, took = _static_pair([tmp_path / "a", tmp_path / "b"], 40, data, "--dist-timeout", "60",
                              kill_rank1_after="3: ")
    (rc0, out0, err0), (rc1, _, _) = runs
    assert took < 60                    # within the timeout (a reset connection is seen at once)
    assert rc1 == -signal.SIGKILL
    assert rc0 == 2, out0 + err0
    lines = err0.strip().splitlines()
    assert len(lines) == 1, err0
    assert lines[0].startswith("darkpy: error: rank 0 lost rank 1 (")
    assert f"the last backup is {tmp_path / 'a' / 'demo.backup'} (batch 2)" in lines[0]
    assert "--resume" in lines[0] and "Traceback" not in out0 + err0


@pytest.mark.slow
def test_rank1_resumes_without_the_backup_folder(data, reference, tmp_path):
    """Rank 1 is given a folder that never exists: rank 0 sends it the backup and its state."""
    a, b = tmp_path / "a", tmp_path / "elsewhere"
    runs, _ = _static_pair([a, b], 4, data)
    assert all(rc == 0 for rc, _, _ in runs), runs
    runs, _ = _static_pair([a, b], 6, data, "--resume")
    for rc, out, err in runs:
        assert rc == 0, out + err
    assert "Resuming from" in runs[0][1]
    assert not b.exists()
    assert (a / "demo_final.weights").read_bytes() == reference


@pytest.mark.slow
def test_ddp_cpu_errors_before_training_are_one_line(data, tmp_path):
    r = subprocess.run(_darkpy("train", str(CFG), "--data", str(data), "--workers", "0", "--max-batches", "1",
                               "--backup", str(tmp_path / "b"), "--ddp-cpu", "3"),
                       env=_env(), text=True, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["darkpy: error: batch=32 cannot be split over 3 processes: use a "
                                             "batch divisible by the number of processes"]


@pytest.mark.slow
def test_ddp_cpu_launcher_forwards_sigterm_and_waits_for_the_backup(data, tmp_path):
    proc = subprocess.Popen(_darkpy(*_args(data, tmp_path / "b", 40, "--ddp-cpu", "2")), env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seen = ""
    for line in proc.stdout:
        seen += line
        if line.startswith("3: "):
            proc.send_signal(signal.SIGTERM)
            break
    out = seen + proc.communicate(timeout=TIMEOUT)[0]
    assert proc.returncode == 130, out
    assert "Stopped at batch 4" in out
    import numpy as np

    header = np.fromfile(tmp_path / "b" / "demo.backup", dtype=np.int32, count=5)
    assert header[3] == 4 * 4        # the backup of batch 4 was complete when the launcher returned
    assert (tmp_path / "b" / "demo.backup.state").exists()
    assert not list((tmp_path / "b").glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds torchrun's workers through /proc")
def test_two_c10d_nodes_restart_after_a_kill_and_need_no_shared_folder(data, reference, tmp_path):
    """Node 1's worker is killed: node 1's agent counts a restart, node 0's sees a membership change
    and does not (their TORCHELASTIC_RESTART_COUNT differ), yet both form the new group and resume;
    node 1's backup folder is never created."""
    port = str(dd.free_port())
    agents = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
               "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "elastic-test",
               "--max-restarts", "1", "-m", "darkpy", *_args(data, tmp_path / f"node{node}", 6)]
        agents.append(subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    logs = ["", ""]   # rank 0 (and its progress lines) may land on either node
    sel = selectors.DefaultSelector()
    for i, a in enumerate(agents):
        sel.register(a.stdout, selectors.EVENT_READ, i)
    deadline = time.monotonic() + TIMEOUT
    killed = False
    while not killed and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:             # that agent ended early: the asserts below show its output
                sel.unregister(key.fileobj)
                killed = not sel.get_map()
                continue
            logs[key.data] += chunk.decode(errors="replace")
            if ("\n" + logs[key.data]).find("\n3: ") >= 0:     # batch 3 done: the batch-2 backup is complete
                os.kill(_worker_pids(agents[1 - key.data].pid)[-1], signal.SIGKILL)   # the other node's: rank 1
                killed = True
                break
    sel.close()
    for i, a in enumerate(agents):
        logs[i] += a.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
        assert a.returncode == 0, logs[i]
    main = 0 if "Saved " in logs[0] else 1
    assert "Restarted by torchrun: resuming by itself" in logs[main]
    assert (tmp_path / f"node{main}" / "demo_final.weights").read_bytes() == reference
    assert not (tmp_path / f"node{1 - main}").exists()
