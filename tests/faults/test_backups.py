"""Backups under faults: a read-only or full disk, a kill at any point of a checkpoint write,
stale temporaries, a state that belongs to other weights. Nothing trained is lost silently."""
from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest
import torch

from darkpy.errors import UsageError
from darkpy.net.model import load_network
from darkpy.train import backup as bk
from darkpy.train.engine import Hook, Trainer
from tests.train.toy import ToyTask


@pytest.fixture
def every2(monkeypatch):
    """Backups every 2 batches (Darknet: 100) so that a few batches cover several backup points."""
    monkeypatch.setattr(bk, "BACKUP_EVERY", 2)
    monkeypatch.setattr(bk, "EARLY_UNTIL", 0)


def _trainer(cfg, out, max_batches, **kw):
    net = load_network(cfg, device="cpu", seed=0)
    lines = []
    tr = Trainer(net, ToyTask(), name="toy", backup_dir=out, device="cpu", max_batches=max_batches, seed=3,
                 log_every=0, chart_every=0, **kw)
    tr.say = lines.append
    tr._write_lines = lines
    return tr, lines


def _read_only(monkeypatch, folder):
    """Writes into `folder` fail as on a read-only file system (chmod does not stop root)."""
    real_mkstemp = __import__("tempfile").mkstemp

    def mkstemp(*a, dir=None, **kw):
        if dir is not None and os.path.abspath(dir).startswith(os.path.abspath(folder)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*a, dir=dir, **kw)

    monkeypatch.setattr("tempfile.mkstemp", mkstemp)


def test_read_only_backup_folder_is_refused_before_training(tmp_path, monkeypatch, tiny_cfg):
    folder = tmp_path / "ro"
    folder.mkdir()
    _read_only(monkeypatch, folder)
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), folder, 3)
    with pytest.raises(UsageError, match=r"backup folder .*ro is not writable: Read-only file system"):
        tr.run()
    assert tr.net.seen == 0  # not one batch trained


def test_backup_naming_a_file_is_one_line(tmp_path, tiny_cfg):
    f = tmp_path / "backup"
    f.write_text("x")
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), f, 3)
    with pytest.raises(UsageError, match="is a file, not a folder"):
        tr.run()


def test_full_disk_mid_backup_keeps_the_previous_backup_and_retries(tmp_path, monkeypatch, every2, capsys, tiny_cfg):
    """ENOSPC in the middle of the batch-4 backup: the batch-2 pair stays loadable and consistent,
    training goes on, the batch-6 backup succeeds, nothing raises."""
    from darkpy.net import weights as wmod

    cfg = tiny_cfg(tmp_path, "toy")
    out = tmp_path / "b"
    real_write = wmod.WeightsWriter.write
    calls = {"n": 0}

    def failing_write(self, tensor):
        if tr.iteration == 4:
            calls["n"] += 1
            if calls["n"] == 2:  # after part of the file is out
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, tensor)

    monkeypatch.setattr(wmod.WeightsWriter, "write", failing_write)
    seen_at = {}

    def check(t):
        if t.iteration in (4, 5):
            seen_at[t.iteration] = (bk.backup_path(out, "toy").read_bytes(), bk.matching_state(out, "toy", 8)[0])

    tr, lines = _trainer(cfg, out, 7, hooks=[Hook(1, check)])
    tr.run()
    err = capsys.readouterr().out
    assert "cannot write" in err and "No space left on device" in err and "next try at batch 6" in err
    # at batch 5 the files on disk are still the batch-2 checkpoint, and they belong together
    b5, state5 = seen_at[5]
    assert state5 is not None and state5["seen"] == 8
    again = load_network(cfg, device="cpu")
    again.load_weights(bk.backup_path(out, "toy"))  # loads (it was rewritten at batch 6)
    state, why = bk.matching_state(out, "toy", again.seen)
    assert state is not None and again.seen == 6 * 4, why
    assert (out / "toy_final.weights").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_final_write_refused_goes_to_a_fallback_folder(tmp_path, monkeypatch, capsys, tiny_cfg):
    out = tmp_path / "b"
    tr, lines = _trainer(tiny_cfg(tmp_path, "toy"), out, 2)
    monkeypatch.setattr(tr, "rescue_dir", lambda: tmp_path / "rescue")
    real = tr.net.save_weights

    def save(path, upto=None):
        if str(path).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, upto)

    tr.net.save_weights = save
    tr.run()
    assert (tmp_path / "rescue" / "toy_final.weights").exists()
    assert any("Final weights written to" in l and "rescue" in l for l in lines)
    assert "Read-only file system" in capsys.readouterr().out


def test_final_write_impossible_exits_2_naming_the_last_good_backup(tmp_path, monkeypatch, every2, tiny_cfg):
    out = tmp_path / "b"
    tr, lines = _trainer(tiny_cfg(tmp_path, "toy"), out, 3)
    monkeypatch.setattr(tr, "rescue_dir", lambda: tmp_path / "rescue")
    real = tr.net.save_weights

    def save(path, upto=None):
        if "final" in Path(path).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, upto)

    tr.net.save_weights = save
    with pytest.raises(UsageError, match=r"the last good backup is .*toy\.backup \(batch 2\)"):
        tr.run()


@pytest.mark.parametrize("kill_at", range(5))
def test_a_kill_anywhere_in_a_checkpoint_never_pairs_new_weights_with_an_old_state(tmp_path, monkeypatch,
                                                                                  kill_at, every2, tiny_cfg):
    """A checkpoint write is: weights temp, state temp, rename, rename. Kill it at each step (the
    process dies: nothing after that runs); the files left must load, and a state is only used
    with the weights it was saved with."""
    out = tmp_path / "b"
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), out, 2)
    tr.run()  # a good checkpoint at batch 2
    old_weights = bk.backup_path(out, "toy").read_bytes()

    class Killed(BaseException):
        pass

    steps = {"n": 0}
    real_replace, real_save_state = os.replace, bk.save_state

    def count():
        if steps["n"] == kill_at:
            raise Killed()
        steps["n"] += 1

    def replace(a, b):
        if str(a).endswith(".pending.tmp"):
            count()
        return real_replace(a, b)

    def save_state(path, state):
        count()
        return real_save_state(path, state)

    net = load_network(tiny_cfg(tmp_path, "toy"), device="cpu", seed=1)
    net.seen = 4 * 4
    monkeypatch.setattr(bk.os, "replace", replace)
    monkeypatch.setattr(bk, "save_state", save_state)

    def weights(path):
        count()
        return net.save_weights(path)

    with pytest.raises(Killed) if kill_at < 4 else _nothing():
        bk.write_checkpoint(out, "toy", weights, {"seen": net.seen})
    monkeypatch.undo()
    check = load_network(tiny_cfg(tmp_path, "toy"), device="cpu")
    check.load_weights(bk.backup_path(out, "toy"))
    state, why = bk.matching_state(out, "toy", check.seen)
    if check.seen == 16:  # the new weights are in place
        assert bk.backup_path(out, "toy").read_bytes() != old_weights
        assert state is None or state["seen"] == 16
    else:
        assert bk.backup_path(out, "toy").read_bytes() == old_weights and state is not None and state["seen"] == 8
    # the next run clears what the kill left behind
    removed = bk.remove_stale_temporaries(out, "toy")
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], removed


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_state_of_other_weights_is_not_used_on_resume(tmp_path, every2, tiny_cfg):
    out = tmp_path / "b"
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), out, 2)
    tr.run()
    state = bk.load_state(bk.state_path(out, "toy"))
    # other weights with the same seen (e.g. a backup copied in from another run)
    other = load_network(tiny_cfg(tmp_path, "toy"), device="cpu", seed=9)
    other.seen = state["seen"]
    other.save_weights(bk.backup_path(out, "toy"))
    got, why = bk.matching_state(out, "toy", other.seen)
    assert got is None and "other weights" in why
    tr, lines = _trainer(tiny_cfg(tmp_path, "toy"), out, 3, resume=True)
    tr.warn_once = lambda text, key=None: lines.append(text)
    tr.run()
    assert any("other weights" in l for l in lines)


def test_stale_temporaries_are_removed_at_start(tmp_path, tiny_cfg):
    out = tmp_path / "b"
    out.mkdir()
    stale = [out / ".toy.backup.pending.tmp", out / "..toy.backup.pending.tmp.ab12.tmp",
             out / ".toy_final.weights.x1.tmp", out / ".chart.png.zz.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    keep = out / ".other.backup.x.tmp"
    keep.write_bytes(b"another run's")
    tr, lines = _trainer(tiny_cfg(tmp_path, "toy"), out, 1)
    tr.run()
    assert not any(p.exists() for p in stale) and keep.exists()
    assert sum("Removed" in l for l in lines) == len(stale)


def test_hook_state_travels_with_the_backup(tmp_path, every2, tiny_cfg):
    """A hook's state_dict is saved with the checkpoint and given back on resume."""

    class Counter(Hook):
        def __init__(self):
            super().__init__(1, name="counter")
            self.count = 0

        def __call__(self, trainer):
            self.count += 1

        def state_dict(self):
            return {"count": self.count}

        def load_state_dict(self, state):
            self.count = state["count"]

    out = tmp_path / "b"
    c = Counter()
    stop = Hook(1, lambda t: t.request_stop() if t.iteration == 3 else None)
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), out, 6, hooks=[c, stop])
    tr.run()
    assert c.count == 3 and bk.load_state(bk.state_path(out, "toy"))["hooks"]["counter"] == {"count": 3}
    c2 = Counter()
    tr, _ = _trainer(tiny_cfg(tmp_path, "toy"), out, 6, hooks=[c2], resume=True)
    tr.run()
    assert c2.count == 6


def test_random_write_failures_never_lose_the_last_good_backup(tmp_path, monkeypatch, every2, capsys, tiny_cfg):
    """Seeded: each checkpoint write fails with probability 1/2 at a random point; after every
    batch the files on disk are a consistent, loadable checkpoint (or none yet)."""
    from darkpy.net import weights as wmod

    rng = random.Random(14)
    real_write = wmod.WeightsWriter.write
    out = tmp_path / "b"

    def flaky(self, tensor):
        if rng.random() < 0.15:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, tensor)

    monkeypatch.setattr(wmod.WeightsWriter, "write", flaky)
    cfg = tiny_cfg(tmp_path, "toy")
    checks = []

    def check(t):
        p = bk.backup_path(out, "toy")
        if p.exists():
            n = load_network(cfg, device="cpu")
            n.load_weights(p)
            state, _ = bk.matching_state(out, "toy", n.seen)
            checks.append(state is not None and state["seen"] == n.seen)

    tr, _ = _trainer(cfg, out, 16, hooks=[Hook(1, check)], )
    tr.rescue_dir = lambda: tmp_path / "rescue"
    tr.run()
    assert checks and all(checks)
    assert "No space left on device" in capsys.readouterr().out
    assert (out / "toy_final.weights").exists() or (tmp_path / "rescue" / "toy_final.weights").exists()
    assert torch.isfinite(torch.tensor(tr.avg_loss))


KILL_SCRIPT = """
import sys
from darkpy.net.model import load_network
from darkpy.train import backup as bk
from darkpy.train.engine import Trainer
from tests.train.toy import ToyTask
bk.BACKUP_EVERY, bk.EARLY_UNTIL = 1, 0
net = load_network(sys.argv[1], device="cpu", seed=0)
Trainer(net, ToyTask(), name="toy", backup_dir=sys.argv[2], device="cpu", max_batches=100000, seed=3,
        resume=sys.argv[3] == "1", log_every=1, chart_every=0).run()
"""


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_consistent_checkpoint(tmp_path, tiny_cfg):
    """SIGKILL a run that writes a checkpoint after every batch, three times at random moments;
    each time the files on disk load, the state is the one saved with those weights (or none is
    used), and `--resume` goes on from there."""
    import signal
    import subprocess
    import sys
    import time

    cfg = tiny_cfg(tmp_path, "toy")
    out = tmp_path / "b"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                       os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(14)
    last_seen = 0
    for k in range(3):
        proc = subprocess.Popen([sys.executable, "-u", str(script), str(cfg), str(out), "1" if k else "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        batches = 0
        for line in proc.stdout:  # wait for a few batches, then kill at a random moment
            if line.split(":")[0].isdigit():
                batches += 1
                if batches >= 3:
                    break
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        net = load_network(cfg, device="cpu")
        net.load_weights(bk.backup_path(out, "toy"))
        state, why = bk.matching_state(out, "toy", net.seen)
        assert state is None or state["seen"] == net.seen
        assert net.seen > last_seen  # progress kept across kills
        last_seen = net.seen


def test_stop_with_a_refusing_backup_folder_saves_to_the_rescue_folder(tmp_path, tiny_cfg):
    out = tmp_path / "b"
    stop = Hook(1, lambda t: t.request_stop() if t.iteration == 2 else None)
    tr, lines = _trainer(tiny_cfg(tmp_path, "toy"), out, 5, hooks=[stop])
    tr.rescue_dir = lambda: tmp_path / "rescue"
    real = tr.net.save_weights

    def save(path, upto=None):
        if str(path).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, upto)

    tr.net.save_weights = save
    tr.run()
    assert tr.interrupted and bk.backup_path(tmp_path / "rescue", "toy").exists()
    assert any("--resume --backup" in l for l in lines)
    state, _ = bk.matching_state(tmp_path / "rescue", "toy", 2 * 4)
    assert state is not None


def test_train_cli_read_only_backup_is_one_line(cli, tmp_path, monkeypatch, tiny_cfg):
    data = generate_set(tmp_path)
    cfg = tiny_cfg(tmp_path / "tiny.cfg")
    folder = tmp_path / "ro"
    folder.mkdir()
    _read_only(monkeypatch, folder)
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", "0", "--backup", folder)
    assert code == 2 and "is not writable: Read-only file system" in err and "\n" not in err.strip()
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", "0", "--backup", cfg)
    assert code == 2 and "is a file, not a folder" in err


def generate_set(tmp_path):
    from darkpy.data.synth import generate

    return generate(tmp_path / "set", images=4, classes=3, size=64, seed=0)
