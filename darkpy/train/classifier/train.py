"""`classifier train`: Darknet's `train_classifier` on the shared training engine.

The engine (`darkpy.train.engine.Trainer`) owns the optimiser, the learning-rate schedule,
subdivisions, backups (`backup/NAME.backup`, `NAME_N.weights`, `NAME_final.weights`), resume,
DDP and AMP, exactly as for detection; this module supplies the classification task.

High-resolution fine-tuning (YOLOv2's recipe) needs nothing special: weights do not depend on
the input size, so weights trained with `darknet19.cfg` load into `darknet19_448.cfg` and train
at 448 x 448.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from darkpy.classify.labels import read_classifier_data
from darkpy.errors import UsageError
from darkpy.train.classifier.task import ClassificationTask
from darkpy.net.model import load_network
from darkpy.train.batchsize import apply_batch
from darkpy.train.engine import Trainer
from darkpy.train import distributed as dd
from darkpy.train.placement import check_gpus, rank_device
from darkpy.train import elastic


def build_training(data: str | Path, cfg: str | Path, weights: str | Path | None = None, *, device=None,
                   seed: int = 0, threads: int | None = None, smooth: float | None = None, log=print,
                   batch: int | None = None, subdivisions: int | None = None):
    """(network, task, classifier data) ready for the Trainer; the weights' load report is logged."""
    d = read_classifier_data(data)
    items = d.split("train")
    net = load_network(cfg, weights, device=device, seed=seed, allow_partial=True)
    apply_batch(net, cfg, batch, subdivisions, lambda text: log(f"warning: {text}"))
    if weights is not None and net.last_load is not None:
        log(str(net.last_load))
    task = ClassificationTask(net, items, seed=seed, threads=threads, smooth=smooth)
    return net, task, d


def train_classifier(data: str | Path, cfg: str | Path, weights: str | Path | None = None, *, device=None,
                     max_batches: int | None = None, clear: bool = False, resume: bool = False,
                     amp: bool = False,
                     seed: int = 0, threads: int | None = None, backup: str | Path | None = None,
                     smooth: float | None = None, hooks=(), log=print, ddp=None, batch: int | None = None,
                     subdivisions: int | None = None, **trainer_options):
    """Train; returns the finished `Trainer`. `ddp` is a `darkpy.train.distributed.DistInfo`
    when this process is one rank of several (see `run_training`)."""
    main = ddp is None or ddp.is_main
    say = log if main else (lambda *_: None)
    net, task, d = build_training(data, cfg, weights, device="cpu", seed=seed, threads=threads, smooth=smooth,
                                  log=say, batch=batch, subdivisions=subdivisions)
    say(f"{len(task.items)} training images, {d.classes} classes, batch {net.net.batch} "
        f"(subdivisions {net.net.subdivisions}), input {net.net.width}x{net.net.height}")
    backup_dir = Path(backup) if backup is not None else d.backup
    trainer = Trainer(net, task, name=Path(cfg).stem, backup_dir=backup_dir, device=device,
                      max_batches=max_batches, clear=clear, resume=resume, amp=amp, hooks=hooks, ddp=ddp,
                      seed=seed, **trainer_options)
    try:
        with elastic.peer_failures(trainer):   # a lost peer: one line (darkpy.train.elastic)
            return trainer.run()
    finally:
        task.close()


def _rank_main(info, kwargs: dict, gpus) -> None:
    """One spawned rank (module level: `launch` pickles it)."""
    kwargs = dict(kwargs)
    kwargs["device"] = rank_device(info, kwargs.get("device") or ("cpu" if not gpus else None), gpus or ())
    train_classifier(ddp=info, **kwargs)


def run_training(*, gpus: list[int] | None = None, ddp_cpu: int = 0, log=print,
                 dist_timeout: float = 600.0, **kwargs) -> None:
    """Single process, or several: under torchrun (RANK/WORLD_SIZE set), one process per GPU of
    `gpus` (NCCL), or `ddp_cpu` gloo processes on the CPU. The cfg's batch is split over them.
    `dist_timeout`: seconds a process waits for its peers (darkpy.train.elastic), as `train`'s."""
    if not dist_timeout > 0:
        raise UsageError(f"--dist-timeout must be a positive number of seconds, got {dist_timeout:g}")
    info = dd.from_env()
    if info.enabled:
        device = rank_device(info, kwargs.pop("device", None), gpus or ())   # --gpus maps ranks here too
        dd.init(info, dist_timeout, device=device)
        try:
            train_classifier(ddp=info, device=device, log=log, **kwargs)
        finally:
            dd.shutdown()
        return
    if gpus and len(gpus) > 1:
        check_gpus(gpus)
        dd.launch(_rank_main, len(gpus), (kwargs, list(gpus)), backend="nccl", timeout=dist_timeout,
                  place=partial(rank_device, device=kwargs.get("device"), gpus=tuple(gpus)))
        return
    if ddp_cpu and ddp_cpu > 1:
        dd.launch(_rank_main, ddp_cpu, (dict(kwargs, device="cpu"), None), backend="gloo", timeout=dist_timeout)
        return
    kwargs["device"] = rank_device(dd.SINGLE, kwargs.get("device"), gpus or ())
    train_classifier(log=log, **kwargs)
