"""`darkpy train`: YOLOv2 training as Darknet does it (`darkpy detector train` is its Darknet form)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP_RATIO = ("YOLO9000 joint training: at most this many images of the .data file's classify= list per "
              "detection image (default 4 when classify= is set).")
HELP_TIMEOUT = ("Several processes: seconds to wait for a peer before giving up with one line naming it "
                "(default 600).")
HELP_GPUS = "GPUs to train on, e.g. 0,1,2,3 (one process each, DistributedDataParallel; batch kept)."


def _gpus(text: Optional[str]) -> tuple[int, ...]:
    from darkpy.errors import UsageError

    if not text:
        return ()
    try:
        return tuple(int(g) for g in text.split(",") if g.strip())
    except ValueError:
        raise UsageError(f"--gpus expects numbers like 0,1,2 (got {text!r})") from None


def _train(data, cfg, weights, gpus, ddp_cpu, clear, resume, amp, workers, seed, max_batches, backup, name,
           device, quiet, class_ratio=None, map_every=0, batch=None, subdivisions=None, backup_every=100,
           dist_timeout=600.0) -> None:
    from darkpy.errors import DataError, UsageError

    # argument errors before the heavy imports (torch: seconds): a mistake is answered at once
    if data is None:
        raise UsageError("no --data file: give the .data file naming classes, train list and backup folder "
                         "(`darkpy data voc` converts Pascal VOC, `darkpy data synth` makes a small set; "
                         "see docs/train.md)")
    from darkpy.assets import locate
    from darkpy.fileio import not_a_file

    for path, what in ((data, ".data file"), (cfg, "cfg")):
        why = not_a_file(locate(path))  # "not found", or a FIFO/folder/device refused at once
        if why is not None:
            raise DataError(f"{what} {why}", file=path)
    from darkpy.train.detection.train import TrainOptions, saved_line, train_detector

    opts = TrainOptions(data=str(data), cfg=str(cfg), weights=str(weights) if weights else None, gpus=_gpus(gpus),
                        ddp_cpu=ddp_cpu, clear=clear, resume=resume, amp=amp, workers=workers, seed=seed,
                        max_batches=max_batches, backup=str(backup) if backup else None, name=name,
                        device=device, quiet=quiet, class_ratio=class_ratio,
                        map_every=map_every, batch=batch, subdivisions=subdivisions, backup_every=backup_every,
                        dist_timeout=dist_timeout)
    trainer = train_detector(opts)
    if trainer is not None and not getattr(trainer, "interrupted", False) and not trainer.dist.enabled:
        trainer.say(saved_line(trainer))


def train(
    cfg: Path = typer.Argument(..., help="Darknet .cfg with a \\[region] layer."),
    data: Optional[Path] = typer.Option(None, "--data", help="Darknet .data file (classes, train, names, backup)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Initial weights (full or partial, e.g. darknet19_448.conv.23)."),
    gpus: Optional[str] = typer.Option(None, "--gpus", "-gpus", help=HELP_GPUS),
    ddp_cpu: int = typer.Option(0, "--ddp-cpu", help="Train with N gloo processes on the CPU (DDP without GPUs)."),
    clear: bool = typer.Option(False, "--clear", "-clear", help="Reset the images-seen counter (restart the schedule from batch 0, e.g. to fine-tune from trained weights), as Darknet's -clear."),
    resume: bool = typer.Option(False, "--resume", help="Continue from BACKUP/NAME.backup with its optimiser state."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision: fp16 on CUDA, bf16 on CPUs with AMX or AVX512_BF16."),
    workers: int = typer.Option(2, "--workers", "-j", help="Data loading processes (0: load in the training process)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initial weights, data order and augmentation."),
    max_batches: Optional[int] = typer.Option(None, "--max-batches", help="Stop after this many batches (default: the cfg's max_batches)."),
    batch: Optional[int] = typer.Option(None, "--batch", help="Images per optimiser step (default: the cfg's batch=)."),
    subdivisions: Optional[int] = typer.Option(None, "--subdivisions", help="Passes the batch is split into (default: the cfg's subdivisions=)."),
    backup: Optional[Path] = typer.Option(None, "--backup", help="Backup folder (default: the .data file's backup=)."),
    name: Optional[str] = typer.Option(None, "--name", help="Backup file prefix (default: the cfg's file name)."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="cpu, cuda, cuda:N (default: CUDA when present)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-batch lines."),
    class_ratio: Optional[float] = typer.Option(None, "--class-ratio", help=HELP_RATIO),
    map_: bool = typer.Option(False, "--map", help="Evaluate mAP on the .data file's valid list during training."),
    map_every: int = typer.Option(100, "--map-every", help="With --map: every N batches (and after the last)."),
    backup_every: int = typer.Option(100, "--backup-every", help="Write NAME.backup every N batches (Darknet: 100)."),
    dist_timeout: float = typer.Option(600.0, "--dist-timeout", help=HELP_TIMEOUT),
) -> None:
    """Train a YOLOv2 detector: Darknet's augmentation, region loss, SGD schedule and backups.

    Writes BACKUP/NAME.backup every 100 batches (+ a .state side file for --resume),
    NAME_N.weights every 100 batches up to 1000 then every 10000, NAME_final.weights and
    chart.png. Ctrl-C finishes the batch, saves a backup and stops.

    With a WordTree cfg (tree=) this is YOLO9000's joint training: classification-only images
    (label lines `class 0 0 w h` or x, y >= 1e5, images named by labels=, or the classify= list) train only
    the class at their most confident anchor; see docs/wordtree.md."""
    _train(data, cfg, weights, gpus, ddp_cpu, clear, resume, amp, workers, seed, max_batches, backup, name,
           device, quiet, class_ratio, map_every if map_ else 0, batch, subdivisions, backup_every, dist_timeout)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
