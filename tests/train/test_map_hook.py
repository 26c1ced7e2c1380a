"""The `--map` training hook with a stand-in trainer: scores, NAME_best.weights, the chart."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

import darkpy
from darkpy.train.map_hook import map_hook

from tests.eval.netdata import make_valid_set


class FakeTrainer(SimpleNamespace):
    def say(self, text):
        self.lines.append(text)

    def save_chart(self):  # the engine draws the chart (with the hook's tile)
        self.engine_chart += 1


def test_map_hook_keeps_the_best_weights_and_draws_the_chart(tmp_path):
    s = make_valid_set(tmp_path / "set")
    net = darkpy.load_network(s["cfg"], s["weights"], device="cpu")
    net.train()
    net.resize(96, 96)  # a multi-scale size: the hook evaluates at the cfg's own
    trainer = FakeTrainer(net=net, iteration=10, backup_dir=tmp_path / "backup", name="det", is_main=True,
                          history=[(i, 10.0 / i, 12.0 / i) for i in range(1, 21)], lines=[], engine_chart=0,
                          base_size=(64, 64), resume=False)
    hook = map_hook(s["data"], every=10)
    assert hook.every == 10 and hook.when == "after" and hook.at_end and hook.due(20) and not hook.due(15)
    hook.fn(trainer)
    assert net.training and (net.net.width, net.net.height) == (96, 96)  # left as it was
    best = tmp_path / "backup" / "det_best.weights"
    assert best.is_file()
    saved = best.read_bytes()
    assert "mAP@0.50 (VOC area) = 0.8333 at batch 10" in trainer.lines[-1]
    # a worse network later: the best file stays
    with torch.no_grad():
        net.layers[1].weight[5].zero_()
        net.layers[1].weight[6].zero_()
    trainer.iteration = 20
    hook.fn(trainer)
    assert "best 0.8333 at batch 10" in trainer.lines[-1]
    assert best.read_bytes() == saved
    hook.fn(trainer)  # the end-of-training call right after a periodic one is not run twice
    side = json.loads((tmp_path / "backup" / "det_map.json").read_text())
    assert [p[0] for p in side["points"]] == [10, 20] and side["best"] == [10, pytest.approx(5 / 6)]
    assert side["points"][1][1] < 0.8
    assert trainer.engine_chart == 2  # the chart is redrawn after each new point
    tile = hook.chart_tile(trainer, (0, 20))
    assert tile.shape[:2] == (300, 800)
    assert hook.state_dict() == {"points": [[p.iteration, p.map, p.seconds] for p in hook.evaluator.points]}


def test_map_hook_resume_picks_up_earlier_points(tmp_path):
    s = make_valid_set(tmp_path / "set")
    net = darkpy.load_network(s["cfg"], s["weights"], device="cpu")
    trainer = FakeTrainer(net=net, iteration=20, backup_dir=tmp_path / "backup", name="det", is_main=True,
                          history=[], lines=[], engine_chart=0, resume=True)
    hook = map_hook(s["data"], every=10)
    hook.load_state_dict({"points": [[10, 0.9, 1.0]]})  # what the trainer's saved state gives back
    hook.fn(trainer)
    ev = hook.evaluator
    assert [p.iteration for p in ev.points] == [10, 20] and ev.best.iteration == 10
    assert not (tmp_path / "backup" / "det_best.weights").exists()  # 0.8333 does not beat 0.9


def test_map_hook_fails_early_on_a_broken_valid_set(tmp_path):
    s = make_valid_set(tmp_path / "set")
    (tmp_path / "set" / "labels" / "img_1.txt").unlink()
    from darkpy.errors import DataError

    with pytest.raises(DataError, match="img_1"):
        map_hook(s["data"], every=10)


def test_map_hook_in_the_training_engine(tmp_path):
    """With the engine present: the hook runs every N batches and at the end, not twice at the end."""
    engine = pytest.importorskip("darkpy.train.engine")
    s = make_valid_set(tmp_path / "set")
    cfg = s["cfg"]
    cfg.write_text(cfg.read_text().replace(
        "[net]\n", "[net]\nbatch=2\nsubdivisions=1\nlearning_rate=0\nmax_batches=4\nmomentum=0\ndecay=0\n", 1))
    net = darkpy.load_network(cfg, s["weights"], device="cpu")

    class Task:
        def batches(self, size, iteration):
            yield torch.rand(2, 3, size[1], size[0]), None

        def loss(self, net, images, targets, seen):
            return engine.StepReport((net(images) * 0).sum())

    hook = map_hook(s["data"], every=2)
    trainer = engine.Trainer(net, Task(), name="det", backup_dir=tmp_path / "backup", device="cpu", hooks=[hook],
                             quiet=True)
    trainer.run()
    assert [p.iteration for p in hook.evaluator.points] == [2, 4]
    assert [round(p.map, 4) for p in hook.evaluator.points] == [0.8333, 0.8333]
    assert (tmp_path / "backup" / "det_best.weights").is_file()
    import cv2

    img = cv2.imread(str(tmp_path / "backup" / "chart.png"))
    assert img.shape[0] == 720  # loss on top, mAP under it
    assert "save_chart" not in vars(trainer)  # nothing is patched onto the trainer
    state = trainer.state_dict()["hooks"]["map"]
    assert [p[0] for p in state["points"]] == [2, 4]


def test_map_points_resume_with_the_backup(tmp_path):
    """Stop at batch 2 (backup + state), resume: the mAP points come back from the state, no side file."""
    engine = pytest.importorskip("darkpy.train.engine")
    from darkpy.train import backup as bk

    s = make_valid_set(tmp_path / "set")
    cfg = s["cfg"]
    cfg.write_text(cfg.read_text().replace(
        "[net]\n", "[net]\nbatch=2\nsubdivisions=1\nlearning_rate=0\nmax_batches=4\nmomentum=0\ndecay=0\n", 1))

    class Task:
        def batches(self, size, iteration):
            yield torch.rand(2, 3, size[1], size[0]), None

        def loss(self, net, images, targets, seen):
            return engine.StepReport((net(images) * 0).sum())

    def run(resume, stop=None):
        net = darkpy.load_network(cfg, s["weights"], device="cpu")
        hook = map_hook(s["data"], every=2)
        hooks = [hook] + ([engine.Hook(1, lambda t: t.request_stop() if t.iteration == stop else None)] if stop else [])
        tr = engine.Trainer(net, Task(), name="det", backup_dir=tmp_path / "backup", device="cpu", hooks=hooks,
                            quiet=True, resume=resume)
        tr.run()
        return hook, tr

    hook, tr = run(False, stop=2)
    assert tr.interrupted and bk.state_path(tmp_path / "backup", "det").exists()
    (tmp_path / "backup" / "det_map.json").unlink()
    hook, tr = run(True)
    assert [p.iteration for p in hook.evaluator.points] == [2, 4]


def test_under_ddp_other_ranks_wait_longer_than_the_group_timeout(tmp_path):
    """Issue 25: rank 0 scores while rank 1 waits in a barrier sized for the valid list, not in
    a training collective: a 5 s evaluation passes under a 2 s process-group timeout."""
    import torch.multiprocessing as mp

    from darkpy.train.distributed import free_port
    from darkpy.train.map_hook import wait_seconds
    from map_wait_rank import rank_main

    assert wait_seconds(10) == 620 and wait_seconds(5000) == 10600
    mp.spawn(rank_main, args=(2, free_port(), str(tmp_path), 5.0, 2.0), nprocs=2, join=True)
    r0 = (tmp_path / "rank0.txt").read_text().split()
    r1 = (tmp_path / "rank1.txt").read_text().split()
    assert r0[0] == "1" and r1[0] == "0"          # only rank 0 evaluates
    assert float(r1[1]) >= 4.5                    # rank 1 waited through it
    assert r0[2] == r1[2] == "2"                  # and both went on to the next all-reduce


def test_ranks_other_than_zero_get_a_waiting_hook(tmp_path):
    s = make_valid_set(tmp_path / "set")
    hook = map_hook(s["data"], every=3, main=False)
    assert hook.evaluator is None and hook.images > 0 and hook.state_dict() == {}
