"""Multi-scale training reaches the data workers: every mini-batch a worker process makes has
the size the engine resized the network to for that batch (the size travels in each request)."""
from __future__ import annotations

import pytest

from darkpy.data.synth import generate
from darkpy.net.model import load_network
from darkpy.train.detection.task import DetectionTask
from darkpy.train.engine import Hook, Trainer


class Recording(DetectionTask):
    def loss(self, net, images, targets, seen):
        self.seen_sizes.append((self.trainer.net.net.width, tuple(images.shape[2:])))
        return super().loss(net, images, targets, seen)


@pytest.mark.slow
def test_worker_batches_follow_the_random_size(tmp_path, tiny_cfg):
    data = generate(tmp_path / "set", images=6, classes=3, size=64, seed=0)
    paths = (data.parent / "train.txt").read_text().split()
    net = load_network(tiny_cfg.text(max_batches=400), device="cpu", seed=0)
    task = Recording(net, paths, 3, workers=2)
    task.seen_sizes = []
    # max_batches 400 (not the last 200 batches, which all use the largest size); stop after 20: two
    # blocks of 10, at 320 and 416 with seed 0 (Darknet's 320..608 whatever the cfg's own 64)
    stop = Hook(1, lambda t: t.request_stop() if t.iteration == 20 else None)
    tr = Trainer(net, task, name="ms", backup_dir=tmp_path / "b", device="cpu", max_batches=400, seed=0,
                 quiet=True, backups=False, chart_every=0, hooks=[stop])
    tr.run()
    sizes = [s for s in task.seen_sizes]
    assert len(sizes) == 20 * 2                       # 2 subdivisions per batch
    assert all(net_w == w == h for net_w, (h, w) in sizes)
    expected = [tr.size_for(i)[0] for i in range(20) for _ in range(2)]
    assert [s[0] for s in sizes] == expected
    assert len(set(expected)) > 1                     # the size did change
    assert set(expected) <= set(range(320, 609, 32))
