"""End to end: `darkpy data synth` -> DetectionTask + Trainer (Darknet augmentation in a worker
process, region loss, Darknet SGD, batch 16 in 4 subdivisions) -> mAP on held-out images.

A tiny YOLOv2 (4 conv+BN+pool stages, 6x6 grid, 5 anchors) trains 150 batches (2,400 images) on
240 generated 96x96 images with 2 shape classes, then is evaluated on the 60 validation images.
Measured on the development machine with darkpy's evaluator (the one behind `darkpy map`,
letterboxed, VOC area AP): mAP@0.5 0.22 after training; the same network untrained scores 0.005
(random boxes rarely overlap a shape at IoU 0.5). The test asserts mAP > 0.08,
more than 20x chance (and more than 10x what the untrained network scores in the run).
Batch norm statistics move 1% per mini-batch as in Darknet, hence 4 subdivisions: 600 updates
of the rolling statistics that evaluation uses.
"""
from __future__ import annotations

import time

import pytest

from darkpy.data.synth import generate
from darkpy.formats.datafile import read_list
from darkpy.net.model import load_network
from darkpy.train.detection.task import DetectionTask
from darkpy.train.engine import Trainer
from darkpy.train.map_hook import MapEvaluator

MAP_ASSERTED = 0.08


@pytest.mark.slow
def test_training_reaches_map_well_above_chance(tmp_path, tiny_cfg):
    data = generate(tmp_path / "set", images=300, classes=2, size=96, seed=1)
    train = read_list(data.parent / "train.txt")
    net = load_network(tiny_cfg.text(
        batch=16, subdivisions=4, width=96, height=96, learning_rate=0.01, max_batches=150, steps="105,135",
        body=((8, 2), (16, 2), (32, 2), (64, 2), (64, 0), (64, 0)), classes=2,
        anchors="0.6,0.6, 0.9,0.9, 1.2,1.2, 1.6,1.6, 2.1,2.1", region=dict(random=0)), device="cpu", seed=0)
    evaluator = MapEvaluator(data)
    before, _ = evaluator.score(net)
    start = time.perf_counter()
    trainer = Trainer(net, DetectionTask(net, train, 2, workers=1), name="e2e", backup_dir=tmp_path / "backup",
                      device="cpu", seed=0, quiet=True, chart_every=0)
    trainer.run()
    seconds = time.perf_counter() - start
    after, _ = evaluator.score(net)
    print(f"mAP untrained: {before:.4f}, trained: {after:.4f}; {seconds:.0f} s, "
          f"data wait {trainer.data_wait_share:.1%}")
    assert net.seen == 150 * 16 and trainer.avg_loss < trainer.history[0][1]
    assert after > MAP_ASSERTED, f"mAP {after:.4f} (untrained: {before:.4f})"
    assert after > 10 * before
    assert (tmp_path / "backup" / "e2e_final.weights").exists() and (tmp_path / "backup" / "e2e_100.weights").exists()
