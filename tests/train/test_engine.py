"""The engine on a toy task: Darknet's step arithmetic, backups, resume equality."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darkpy.net.model import load_network
from darkpy.train import backup as bk
from darkpy.train.engine import Hook, Trainer, multiscale_size
from toy import ToyTask


def _train(cfg, out, max_batches, resume=False, stop_at=None, seed=3):
    net = load_network(cfg, device="cpu", seed=0)
    hooks = []
    if stop_at is not None:
        hooks.append(Hook(1, lambda t: t.request_stop() if t.iteration == stop_at else None))
    tr = Trainer(net, ToyTask(), name="toy", backup_dir=out, device="cpu", max_batches=max_batches,
                 resume=resume, hooks=hooks, seed=seed, quiet=True)
    tr.run()
    return tr


def test_one_step_is_darknets_update(tmp_path, tiny_cfg):
    """One batch of 4 images in 2 subdivisions: w -= lr/batch * (grad_sum + decay*batch*w)."""
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=0, burn_in=0)
    net = load_network(cfg, device="cpu", seed=0)
    w0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    # the gradient of the summed loss over the same 4 images, computed directly
    ref = load_network(cfg, device="cpu", seed=0)
    task = ToyTask()

    class T:
        rank, images_per_rank, mini_batch, seed = 0, 4, 4, 3
    task.setup(T)
    (x, t), = list(task.batches((32, 32), 0))
    task.loss(ref, x, t, 4).loss.backward()
    tr = _train(cfg, tmp_path / "b", 1)
    assert tr.net.seen == 4 and tr.iteration == 1
    lr, decay = 0.001, 0.0005
    for (name, p), (_, q) in zip(tr.net.named_parameters(), ref.named_parameters()):
        wd = decay * 4 if name.endswith("weight") else 0.0
        expected = w0[name] - lr / 4 * (q.grad + wd * w0[name])
        torch.testing.assert_close(p.detach(), expected, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "b" / "toy_final.weights").exists()
    assert tr.last.loss == pytest.approx(tr.history[0][1])


def test_resume_equals_uninterrupted(tmp_path, tiny_cfg):
    """Stop after 4 batches (backup + state side file), resume to 9: same bytes as 9 in one go.
    Batch norm on, burn-in and a steps policy in play, momentum carried over."""
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=1, burn_in=3)
    whole = _train(cfg, tmp_path / "whole", 9)
    part = _train(cfg, tmp_path / "part", 9, stop_at=4)
    assert part.interrupted and part.iteration == 4
    assert bk.backup_path(tmp_path / "part", "toy").exists() and bk.state_path(tmp_path / "part", "toy").exists()
    assert not (tmp_path / "part" / "toy_final.weights").exists()
    resumed = _train(cfg, tmp_path / "part", 9, resume=True)
    assert resumed.start_iteration == 4 and resumed.iteration == 9
    a = (tmp_path / "whole" / "toy_final.weights").read_bytes()
    b = (tmp_path / "part" / "toy_final.weights").read_bytes()
    assert a == b
    assert np.isfinite(whole.avg_loss) and resumed.avg_loss == pytest.approx(whole.avg_loss, rel=1e-9)
    assert [h[0] for h in resumed.history] == list(range(1, 10))


def test_resume_without_backup_is_a_user_error(tmp_path, tiny_cfg):
    from darkpy.errors import UsageError

    with pytest.raises(UsageError, match="no backup"):
        _train(tiny_cfg(tmp_path, "toy"), tmp_path / "none", 2, resume=True)


def test_backup_rules_match_darknet():
    assert [i for i in range(1, 1500) if bk.wants_backup(i)][:3] == [100, 200, 300]
    snaps = [i for i in range(1, 30001) if bk.wants_snapshot(i)]
    assert snaps[:9] == [100, 200, 300, 400, 500, 600, 700, 800, 900]
    assert snaps[9:] == [10000, 20000, 30000]


def test_multiscale_sizes():
    sizes = {multiscale_size((416, 416), i, 100000, 0) for i in range(0, 5000, 10)}
    assert sizes == {(d, d) for d in range(320, 609, 32)}
    # constant within a block of 10, the largest size in the last 200 batches
    assert len({multiscale_size((416, 416), i, 100000, 0) for i in range(30, 40)}) == 1
    assert multiscale_size((416, 416), 9810, 10000, 0) == (608, 608)
    # Darknet draws the same sizes whatever the cfg's own size (detector.c): a 128 or a 608 cfg
    # trains at 320..608 too, and ends at 608
    small = {multiscale_size((128, 128), i, 100000, 1)[0] for i in range(0, 3000, 10)}
    assert small == set(range(320, 609, 32))
    big = {multiscale_size((608, 608), i, 100000, 1) for i in range(0, 3000, 10)}
    assert big == {(d, d) for d in range(320, 609, 32)}
    assert multiscale_size((608, 608), 9810, 10000, 1) == (608, 608)
    assert multiscale_size((544, 320), 9810, 10000, 1) == (608, 608)   # square, as Darknet


def test_ctrl_c_inside_a_batch_names_that_batch_and_keeps_the_last_finished_one(tmp_path, tiny_cfg):
    """Issue 20: a KeyboardInterrupt during batch 3 says 'inside batch 3' and the rescue backup
    holds the weights (and `seen`) of batch 2, not a half-counted batch 3."""
    class StopInBatch3(ToyTask):
        def loss(self, net, images, targets, seen):
            if seen > 2 * 4:  # the third batch's first pass
                raise KeyboardInterrupt
            return super().loss(net, images, targets, seen)

    net = load_network(tiny_cfg(tmp_path, "toy"), device="cpu", seed=0)
    said = []
    tr = Trainer(net, StopInBatch3(), name="toy", backup_dir=tmp_path / "out", device="cpu", max_batches=10,
                 seed=3, quiet=True)
    tr.say = said.append
    with pytest.raises(KeyboardInterrupt):
        tr.run()
    line = next(s for s in said if s.startswith("Interrupted"))
    assert line.startswith("Interrupted inside batch 3:") and line.endswith("(the weights after batch 2)")
    assert tr.iteration == 2 and net.seen == 8
