"""Detection training (YOLOv2), as `darkpy train` / `darkpy detector train` run it.

`train_detector(...)` reads the `.data` file, builds the network, picks the task (the plain
`darkpy.train.detection.task.DetectionTask`, or YOLO9000's joint task from `darkpy.train.joint`) and
runs the engine in one or several processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from darkpy.train.detection.loader import read_image_list
from darkpy.errors import DataError, UsageError
from darkpy.train.map_hook import map_hook
from darkpy.formats.datafile import DataConfig, data_config, read_data_file
from darkpy.net.model import load_network
from darkpy.train import distributed as dd
from darkpy.train import elastic
from darkpy.train.batchsize import apply_batch
from darkpy.train.placement import check_gpus, rank_device
from darkpy.train.engine import Trainer
from darkpy.train.joint import make_detection_task


def read_training_data(path: str | Path) -> DataConfig:
    """The `.data` file as training needs it: `classes` and an existing `train=` list, else an
    error naming the file and line."""
    data = read_data_file(path)
    classes = data.classes
    if classes < 1:
        raise DataError(f"'classes' must be at least 1, got {classes}", file=data.path, line=data.lines.get("classes"))
    train_value = data.require("train")
    config = data_config(data)
    if not config.train.exists():
        raise DataError(f"training list '{train_value}' not found", file=data.path, line=data.lines.get("train"))
    return config


@dataclass
class TrainOptions:
    """Everything `darkpy train` passes to each training process (plain values: picklable)."""

    data: str
    cfg: str
    weights: str | None = None
    gpus: tuple[int, ...] = ()
    ddp_cpu: int = 0
    clear: bool = False
    resume: bool = False
    amp: bool = False
    workers: int = 2
    seed: int = 0
    max_batches: int | None = None
    backup: str | None = None
    name: str | None = None
    device: str | None = None
    quiet: bool = False
    log_every: int = 1
    chart_every: int = 100
    map_every: int = 0                 # > 0: mAP on the valid list every N batches (darkpy.train.map_hook)
    class_ratio: float | None = None   # YOLO9000 joint training: at most this many classification images
                                       # per detection image (darkpy.train.joint)
    batch: int | None = None           # override the cfg's batch= (images per optimiser step)
    subdivisions: int | None = None    # override the cfg's subdivisions=
    backup_every: int | None = None    # NAME.backup every N batches (None: Darknet's 100)
    dist_timeout: float = 600.0        # seconds a process waits for its peers (darkpy.train.elastic)


def _build(opts: TrainOptions, info) -> Trainer:
    data = read_training_data(opts.data)
    paths = read_image_list(data.train)
    net = load_network(opts.cfg, opts.weights, device="cpu", seed=opts.seed, allow_partial=True)
    warnings: list[str] = []
    apply_batch(net, opts.cfg, opts.batch, opts.subdivisions, warnings.append)
    device = _device(info, opts)
    task = make_detection_task(net, paths, data, opts, list_dir=str(Path(data.train).parent))
    name = opts.name or Path(opts.cfg).stem
    hooks = []
    if opts.map_every > 0:   # every rank: rank 0 scores, the others wait for it (darkpy.train.map_hook)
        hooks.append(map_hook(opts.data, every=opts.map_every, main=info.is_main))
    trainer = Trainer(net, task, name=name, backup_dir=opts.backup or data.backup, device=device, hooks=hooks,
                      max_batches=opts.max_batches, clear=opts.clear, resume=opts.resume, amp=opts.amp,
                      ddp=info, seed=opts.seed, quiet=opts.quiet, log_every=opts.log_every,
                      chart_every=opts.chart_every, backup_every=opts.backup_every,
                      chart_name=f"chart_{opts.name}.png" if opts.name else "chart.png")
    for text in warnings:
        trainer.warn_once(text)
    if net.last_load is not None:
        trainer.say(str(net.last_load))
    trainer.say(f"{opts.cfg}: {len(paths)} training images from {data.train}, {data.classes} classes, "
                f"backups in {trainer.backup_dir}")
    for line in getattr(task, "describe", lambda: [])():
        trainer.say(line)
    return trainer


def _device(info, opts: TrainOptions):
    """This process's device (`darkpy.train.placement.rank_device`: set current, checked)."""
    if opts.ddp_cpu:
        return rank_device(info, "cpu")
    return rank_device(info, opts.device, opts.gpus)


def saved_line(trainer: Trainer) -> str:
    """The closing line of a training run that reached its end: it names the file actually written
    (after a full disk, the fallback folder's copy, not the backup folder's missing one)."""
    final = getattr(trainer, "final_written", None)
    if final is None:
        return f"No final weights written ({trainer.iteration} batches, nothing new to save)"
    steady = getattr(trainer, "steady_wait_share", None)
    after = f" ({steady:.1%} after the first batch, which starts the loaders)" if steady is not None else ""
    return (f"Saved {final} after {trainer.iteration} batches; "
            f"data wait {trainer.data_wait_share:.1%} of step time{after}")


def _run_rank(info, opts: TrainOptions):
    trainer = _build(opts, info)
    with elastic.peer_failures(trainer):   # a lost peer: one line (darkpy.train.elastic)
        trainer.run()
    if info.enabled and info.is_main and not getattr(trainer, "interrupted", False):
        trainer.say(saved_line(trainer))  # several processes: rank 0 closes the run (the caller gets None)
    return trainer


def train_detector(opts: TrainOptions):
    """Train as Darknet's `detector train` does; several processes with `--gpus a,b,..`,
    `--ddp-cpu N` or under torchrun. Returns the Trainer (single process) or None."""
    if not opts.dist_timeout > 0:
        raise UsageError(f"--dist-timeout must be a positive number of seconds, got {opts.dist_timeout:g}")
    info = dd.from_env()
    if info.enabled:  # started by torchrun
        dd.init(info, opts.dist_timeout, device=_device(info, opts))   # the GPU is made current first
        elastic.watch_agent(info.rank)
        try:
            return _run_rank(info, opts)
        finally:
            dd.shutdown()
    if opts.gpus and opts.ddp_cpu:
        raise UsageError("--gpus and --ddp-cpu exclude each other")
    if len(opts.gpus) > 1:
        check_gpus(opts.gpus)
        dd.launch(_run_rank, len(opts.gpus), (opts,), backend="nccl", timeout=opts.dist_timeout,
                  place=partial(rank_device, device=opts.device, gpus=tuple(opts.gpus)))
        return None
    if opts.ddp_cpu > 1:
        read_training_data(opts.data)   # a broken .data file: one line before any process starts
        dd.launch(_run_rank, opts.ddp_cpu, (opts,), backend="gloo", timeout=opts.dist_timeout)
        return None
    return _run_rank(dd.SINGLE, opts)
