"""`classifier train`: Darknet's `train_classifier` on the shared training engine.

The engine (`darkpy.train.engine.Trainer`) owns the optimiser, the learning-rate schedule,
subdivisions, backups (`backup/NAME.backup`, `NAME_N.weights`, `NAME_final.weights`), resume,
DDP and AMP, exactly as for detection; this module supplies the classification task.

High-resolution fine-tuning (YOLOv2's recipe) needs nothing special: weights do not depend on
the input size, so weights trained with `darknet19.cfg` load into `darknet19_448.cfg` and train
at 448 x 448.
"""
from __future__ import annotations

from pathlib import Path

from darkpy.classify.labels import read_classifier_data
from darkpy.classify.task import ClassificationTask
from darkpy.errors import UsageError


def build_training(data: str | Path, cfg: str | Path, weights: str | Path | None = None, *, device=None,
                   seed: int = 0, threads: int | None = None, smooth: float | None = None, log=print):
    """(network, task, classifier data) ready for the Trainer; the weights' load report is logged."""
    from darkpy.model import load_network

    d = read_classifier_data(data)
    items = d.split("train")
    net = load_network(cfg, weights, device=device, seed=seed)
    if weights is not None and net.last_load is not None:
        log(str(net.last_load))
    task = ClassificationTask(net, items, seed=seed, threads=threads, smooth=smooth)
    return net, task, d


def train_classifier(data: str | Path, cfg: str | Path, weights: str | Path | None = None, *, device=None,
                     max_batches: int | None = None, clear: bool = False, resume: bool = False, amp: bool = False,
                     seed: int = 0, threads: int | None = None, backup: str | Path | None = None,
                     smooth: float | None = None, hooks=(), log=print, **trainer_options):
    try:
        from darkpy.train.engine import Trainer
    except ImportError:  # pragma: no cover
        raise UsageError("the training engine (darkpy.train) is not part of this build") from None
    net, task, d = build_training(data, cfg, weights, device=device, seed=seed, threads=threads, smooth=smooth,
                                  log=log)
    log(f"{len(task.items)} training images, {d.classes} classes, batch {net.net.batch} "
        f"(subdivisions {net.net.subdivisions}), input {net.net.width}x{net.net.height}")
    backup_dir = Path(backup) if backup is not None else d.backup
    trainer = Trainer(net, task, name=Path(cfg).stem, backup_dir=backup_dir, device=device,
                      max_batches=max_batches, clear=clear, resume=resume, amp=amp, hooks=hooks, **trainer_options)
    try:
        return trainer.run()
    finally:
        task.close()
