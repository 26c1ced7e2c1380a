"""Issue 25, proven without a GPU: every shipped cfg runs forward, loss and backward on torch's
`meta` device (shapes only; like CUDA it refuses a CPU tensor mixed in by mistake), and a whole
training step copies to the host exactly once, after the update (`syncs.count_host_syncs`).

Value shims: none for forward/loss/backward (a data-dependent read on `meta` would be counted as
a sync); the one copy per step reads zeros."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from darkpy.assets import ROOT
from darkpy.net.model import load_network
from darkpy.train.classifier.loss import build_truth, classification_loss, find_head
from darkpy.train.classifier.task import ClassificationTask
from darkpy.train.detection.loss import CLASS_ONLY, RegionLoss
from darkpy.train.detection.task import DetectionTask
from darkpy.train.engine import Trainer
from syncs import count_host_syncs

CFGS = sorted((ROOT / "cfg").glob("*.cfg"))


def _truth(layer, n: int = 2, class_only: bool = False) -> torch.Tensor:
    """Loader-style CPU truth: a box per image (and a classification-only label on the last image)."""
    t = torch.zeros(n, layer.max_boxes, 5)
    t[:, 0] = torch.tensor([0.5, 0.4, 0.2, 0.3, 1.0])
    t[:, 1] = torch.tensor([0.1, 0.9, 0.1, 0.1, 0.0])
    if class_only:
        t[-1, 0] = torch.tensor([CLASS_ONLY + 1, CLASS_ONLY + 1, 1.0, 1.0, 2.0])
        t[-1, 1] = 0
    return t


@pytest.mark.parametrize("cfg", CFGS, ids=lambda p: p.stem)
def test_forward_loss_backward_on_meta_without_host_syncs(cfg: Path):
    assert len(CFGS) >= 16
    net = load_network(cfg, device="meta").train()
    x = torch.empty(2, net.net.channels, net.net.height, net.net.width, device="meta")
    det = net.detection_layers
    with count_host_syncs() as log:
        if det and det[-1].section_name == "region":
            _, inputs = net.forward_with_inputs(x)
            loss = None
            for index, raw in inputs.items():
                layer = net.layers[index]
                crit = RegionLoss(layer, logistic_gradient=True).to("meta")
                r = crit(raw.float(), _truth(layer, class_only=layer.tree is not None), 100)
                stats = r.summary_tensors()
                assert all(v.device.type == "meta" for v in stats.values())
                assert r.delta.shape == raw.shape and r.cost.device.type == "meta"
                loss = r.loss if loss is None else loss + r.loss
        elif det:   # [yolo] cfgs: darkpy has no YOLOv3 training loss; every head's input summed
            _, inputs = net.forward_with_inputs(x)
            loss = sum(raw.float().sum() for raw in inputs.values())
        else:
            head = find_head(net)
            classes = np.array([0, 1])
            truth = torch.from_numpy(build_truth(classes, head.outputs, min(head.outputs, 10), head.tree))
            parts = classification_loss(net, head, x, truth)
            assert parts.softmax_cost.device.type == "meta"
            loss = parts.loss
        loss.backward()
    assert log.calls == []
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.device.type == "meta" for g in grads)


def test_the_counter_sees_a_host_read():
    """Control: the old per-pass read of the statistics is counted."""
    net = load_network(ROOT / "cfg" / "demo.cfg", device="meta")
    layer = net.detection_layers[-1]
    raw = torch.empty(1, layer.num * (5 + layer.classes), 3, 3, device="meta")
    r = RegionLoss(layer).to("meta")(raw, _truth(layer, 1), 100)
    with count_host_syncs() as log:
        r.summary()
        float(r.cost)
    assert log.count >= 2


def test_class_ids_are_checked_on_the_cpu_truth():
    net = load_network(ROOT / "cfg" / "demo.cfg", device="meta")
    layer = net.detection_layers[-1]
    raw = torch.empty(1, layer.num * (5 + layer.classes), 3, 3, device="meta")
    truth = _truth(layer, 1)
    truth[0, 1, 4] = layer.classes
    with count_host_syncs() as log, pytest.raises(ValueError, match=f"truth class {layer.classes} of image 0, slot 1"):
        RegionLoss(layer).to("meta")(raw, truth, 100)
    assert log.calls == []


class MetaDetection(DetectionTask):
    """The real detection loss, fed loader-style CPU batches without worker processes."""

    def setup(self, trainer):
        self.trainer = trainer
        for loss in self.losses.values():
            loss.to(trainer.device)

    def batches(self, size, iteration):
        for _ in range(self.trainer.images_per_rank // self.trainer.mini_batch):
            yield torch.zeros(self.trainer.mini_batch, 3, *size[::-1]), _truth(self.region, self.trainer.mini_batch)


class MetaClassification(ClassificationTask):
    def batches(self, size, iteration):
        n = self.mini_batch
        truth = build_truth(np.arange(n) % 2, self.head.outputs, self.n_labels, self.head.tree)
        for _ in range(self.images_per_rank // n):
            yield torch.zeros(n, 3, self.height, self.width), torch.from_numpy(truth)


def _step_syncs(tmp_path, trainer):
    trainer._setup()
    at_update = []
    step = trainer.optimizer.step
    trainer.optimizer.step = lambda *a, **k: (at_update.append(log.count), step(*a, **k))[1]
    with count_host_syncs() as log:
        result = trainer._step()
    return at_update, log, result


@pytest.mark.parametrize("kind", ["detection", "classifier"])
def test_a_training_step_reads_the_device_once_after_the_update(tmp_path, kind):
    cfg = ROOT / "cfg" / ("demo.cfg" if kind == "detection" else "tiny.cfg")
    net = load_network(cfg, device="cpu", seed=0)
    if kind == "detection":
        task = MetaDetection(net, [], workers=0)
    else:
        task = MetaClassification(net, type("L", (), {"labels": ["a", "b"], "paths": [], "classes": None})(),
                                  prefetch=False)
    trainer = Trainer(net, task, name="meta", backup_dir=tmp_path, device="meta", max_batches=2, quiet=True,
                      backups=False, multiscale=False)
    at_update, log, result = _step_syncs(tmp_path, trainer)
    assert at_update == [0]                        # nothing waited for the device before the update
    assert log.calls == ["tolist"]                 # then one copy: cost, stats, totals, flags together
    assert result.iteration == 1 and trainer.net.seen == trainer.images_per_step
