"""`darkpy classifier train|valid|predict|label`: Darknet's classifier commands (Darknet-19, darknet9000),
in Darknet's argument order (DATA CFG WEIGHTS ...) with its flags (-clear, -gpus, -t)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from darkpy.cli.darknet import darknet_group_class
from darkpy.cli.engine import CLASSIFIER_ENGINE_HELP, engine_option

group = typer.Typer(help="Train, validate and run image classifiers (Darknet-19 and friends). Darknet's flags "
                         "(-clear, -gpus, -t, AlexeyAB's -dont_show...) work anywhere on the line.",
                    no_args_is_help=True, cls=darknet_group_class())


@group.command("train")
def train(
    data: Path = typer.Argument(..., help="Classification .data (classes, train, labels, backup...)."),
    cfg: Path = typer.Argument(..., help="Network .cfg (e.g. cfg/darknet19.cfg, cfg/darknet19_448.cfg)."),
    weights: Optional[Path] = typer.Argument(None, help="Initial weights (full or partial)."),
    max_batches: Optional[int] = typer.Option(None, "--max-batches",
                                              help="Stop after this many iterations (default: the cfg's)."),
    clear: bool = typer.Option(False, "--clear", "-clear",
                               help="Reset the images-seen counter (schedule starts over)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from backup/NAME.backup."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision on CUDA."),
    device: Optional[str] = typer.Option(None, "--device", "-d",
                                         help="cpu, cuda, cuda:N (default: CUDA when present)."),
    backup: Optional[Path] = typer.Option(None, "--backup",
                                          help="Backup folder (default: the .data's backup=)."),
    seed: int = typer.Option(0, "--seed", help="Seed for image draws and augmentation."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Image-loading threads."),
    threads: Optional[int] = typer.Option(None, "--threads", hidden=True, help="Old name of --workers."),
    smooth: Optional[float] = typer.Option(None, "--label-smooth",
                                           help="Label smoothing epsilon (default: the cfg's "
                                                 "label_smooth_eps)."),
    gpus: Optional[str] = typer.Option(None, "--gpus", "-gpus",
                                       help="GPU ids, e.g. 0,1,2,3: one process per GPU (DDP), the cfg's "
                                             "batch split over them."),
    ddp_cpu: int = typer.Option(0, "--ddp-cpu", help="N processes on the CPU (DDP over gloo; for tests)."),
    batch: Optional[int] = typer.Option(None, "--batch", help="Images per optimiser step (default: the cfg's)."),
    subdivisions: Optional[int] = typer.Option(None, "--subdivisions",
                                               help="Passes the batch is split into (default: the cfg's)."),
    dist_timeout: float = typer.Option(600.0, "--dist-timeout",
                                       help="Several processes: seconds to wait for a peer before giving up "
                                            "with one line naming it (default 600)."),
) -> None:
    """Train a classifier with Darknet's augmentation, loss, schedule and backups."""
    from rich.console import Console

    from darkpy.train.classifier.train import run_training

    threads = workers if workers is not None else threads
    from darkpy.errors import UsageError

    gpu_ids = None
    if gpus:
        try:
            gpu_ids = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError:
            raise UsageError(f"--gpus takes comma-separated GPU ids, got {gpus!r}") from None
    console = Console(highlight=False, soft_wrap=True)
    run_training(data=str(data), cfg=str(cfg), weights=str(weights) if weights else None, device=device,
                 max_batches=max_batches, clear=clear, resume=resume, amp=amp, seed=seed, threads=threads,
                 backup=str(backup) if backup else None, smooth=smooth, gpus=gpu_ids, ddp_cpu=ddp_cpu,
                 batch=batch, subdivisions=subdivisions, dist_timeout=dist_timeout,
                 log=lambda s: console.print(s, markup=False))


@group.command("valid")
def valid(
    data: Path = typer.Argument(..., help="Classification .data (valid, labels, top...)."),
    cfg: Path = typer.Argument(..., help="Network .cfg."),
    weights: Path = typer.Argument(..., help="Trained .weights."),
    mode: str = typer.Option("center", "--mode",
                             help="center (Darknet's valid), resize (validcrop), ten (valid10), "
                                   "multi (validmulti)."),
    scales: Optional[List[int]] = typer.Option(None, "--scale",
                                               help="Scales for --mode multi (repeatable; default 224 288 "
                                                     "320 352 384)."),
    top: Optional[int] = typer.Option(None, "--top", help="k for top-k (default: the .data's top=)."),
    batch: int = typer.Option(16, "--batch", help="Images per forward pass (center/resize modes)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
    show: int = typer.Option(10, "--show",
                             help="Classes listed in the per-class summary (worst first; 0: none)."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="cpu, cuda, cuda:N."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Image-loading threads (default 4)."),
    threads: Optional[int] = typer.Option(None, "--threads", hidden=True, help="Old name of --workers."),
    engine: str = engine_option(CLASSIFIER_ENGINE_HELP),
) -> None:
    """Top-1 and top-k accuracy on the valid= images, with a per-class confusion summary."""
    from rich.console import Console
    from rich.table import Table

    from darkpy.classify.labels import read_classifier_data
    from darkpy.classify.validate import MODES, MULTI_SCALES, validate
    from darkpy.cli.engine import load_classifier_for_engine
    from darkpy.errors import UsageError

    threads = workers if workers is not None else (threads if threads is not None else 4)
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    d = read_classifier_data(data)
    k = top if top is not None else d.top
    if k < 1 or k > d.classes:
        raise UsageError(f"--top {k} must be between 1 and classes={d.classes}")
    items = d.split("valid")
    n = len(items) if limit is None else min(limit, len(items))
    # forward passes per image: ten crops, or each scale and its mirror
    passes = {"ten": 10, "multi": 2 * len(scales or MULTI_SCALES)}.get(mode, 1)
    net = load_classifier_for_engine(cfg, weights, device, engine, n * passes,
                                     lambda text: typer.echo(text, err=True))
    console = Console(highlight=False, soft_wrap=True)
    console.print(str(net.last_load))
    res = validate(net, items, k, mode=mode, scales=tuple(scales) if scales else MULTI_SCALES, batch=batch,
                   threads=threads, limit=limit)
    console.print(f"{res.count} images: top 1: {res.top1_accuracy:.4f}, top {k}: {res.topk_accuracy:.4f}")
    if show:
        names = d.names or d.labels
        rows = sorted(res.per_class(), key=lambda r: (r["top1"], -r["images"]))[:show]
        table = Table(title=f"per class (worst {len(rows)} of {len(res.per_class())})")
        for col in ("class", "images", "top 1", f"top {k}", "most confused with"):
            table.add_column(col, justify="right" if col in ("images", "top 1", f"top {k}") else "left")
        for r in rows:
            other = "-"
            if r["confused_with"] is not None:
                other = f"{names[r['confused_with']]} ({r['confused_count']})"
            table.add_row(names[r["class"]], str(r["images"]), f"{r['top1']:.3f}", f"{r['topk']:.3f}", other)
        console.print(table)


@group.command("predict")
def predict(
    data: Path = typer.Argument(..., help="Classification .data (names or labels, top)."),
    cfg: Path = typer.Argument(..., help="Network .cfg."),
    weights: Path = typer.Argument(..., help="Trained .weights."),
    images: List[Path] = typer.Argument(..., help="Image files."),
    top: Optional[int] = typer.Option(None, "--top", "-t",
                                      help="How many classes to list (default: the .data's top=)."),
    preprocess: str = typer.Option("letterbox", "--preprocess",
                                   help="letterbox (Darknet's predict), center (resize_min + crop), resize."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="cpu, cuda, cuda:N."),
    hier_walk: Optional[str] = typer.Option(None, "--hier-walk", help="WordTree cfgs: also name the node "
                                            "this walk stops at: 'darknet' (product of absolute "
                                            "probabilities) or 'paper' (the path's probability); "
                                            "see docs/yolo9000.md."),
    hier_thresh: float = typer.Option(0.5, "--hier-thresh", help="Threshold of --hier-walk (Darknet: .5)."),
    engine: str = engine_option(CLASSIFIER_ENGINE_HELP),
) -> None:
    """Top-k classes with probabilities for each image (WordTree-aware for darknet9000-style cfgs)."""
    from darkpy.classify.labels import read_classifier_data
    from darkpy.classify.prediction import PREPROCESS
    from darkpy.cli.engine import load_classifier_for_engine
    from darkpy.errors import UsageError
    from darkpy.net.numpy_forward import NumpyNetwork
    from darkpy.wordtree.numpy_hierarchy import check_walk

    if preprocess not in PREPROCESS:
        raise UsageError(f"--preprocess must be one of {', '.join(PREPROCESS)}")
    if hier_walk is not None:
        check_walk(hier_walk)
        if not 0 <= hier_thresh <= 1:
            raise UsageError("--hier-thresh must lie in [0, 1]")
    d = read_classifier_data(data, need_labels=False)
    names = d.names or d.labels
    net = load_classifier_for_engine(cfg, weights, device, engine, len(images),
                                     lambda text: typer.echo(text, err=True))
    if isinstance(net, NumpyNetwork):
        from darkpy.classify.numpy_predict import predict_images
    else:
        from darkpy.classify.predict import predict_images
    outputs = net.output_layer.out_shape[0] * net.output_layer.out_shape[1] * net.output_layer.out_shape[2]
    k = top if top is not None else d.top
    if k < 1 or k > outputs:
        raise UsageError(f"--top {k} must be between 1 and the network's {outputs} outputs")
    if names and len(names) < outputs and getattr(net.output_layer, "tree", None) is not None:
        raise UsageError(f"names has {len(names)} entries but the tree has {outputs} nodes")
    if hier_walk is not None and getattr(net.output_layer, "tree", None) is None:
        raise UsageError(f"--hier-walk needs a WordTree softmax (tree=) at the end of {cfg}")
    for pred in predict_images(net, images, k, preprocess, hier_walk, hier_thresh):
        typer.echo(f"{pred.path}:")
        for line in pred.lines(names):
            typer.echo(f"  {line}")


@group.command("label")
def label(
    data: Path = typer.Argument(..., help="Classification .data (test= list, names or labels, classes)."),
    cfg: Path = typer.Argument(..., help="Network .cfg."),
    weights: Path = typer.Argument(..., help="Trained .weights."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="cpu, cuda, cuda:N."),
) -> None:
    """Darknet's `classifier label`: the best class name of every image of the .data's test= list, one per
    line (resized so the short side fits the network, centre crop)."""
    from darkpy.classify.labels import read_classifier_data
    from darkpy.classify.predict import predict_images
    from darkpy.errors import DataError
    from darkpy.formats.datafile import read_list
    from darkpy.net.model import load_network

    d = read_classifier_data(data, need_labels=False)
    test = d.data.resolve("test")
    if test is None:
        raise DataError("no 'test=' entry (the images to label)", file=d.data.path)
    if not Path(test).is_file():
        raise DataError(f"test list not found: {test}", file=d.data.path, line=d.data.lines.get("test"))
    paths = [p if Path(p).is_absolute() or Path(p).exists() else str(Path(test).parent / p)
             for p in read_list(test)]
    names = d.names or d.labels
    net = load_network(cfg, weights, device=device)
    for pred in predict_images(net, paths, 1, "center"):
        i = pred.indexes[0]
        typer.echo(names[i] if i < len(names) else str(i))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="classifier")
