"""Detection training (YOLOv2): the engine's `Task` for a region-layer network and a `.data` file.

`DetectionTask` turns Darknet's image list into mini-batches (`darkpy.detect.loader`: worker
processes, Darknet's augmentation, truth as `max_boxes` rows of `x y w h class`) and computes the
region loss of every `[region]` layer (`darkpy.detect.loss.RegionLoss`). The loss fed to
autograd has Darknet's gradient; the printed loss is Darknet's cost (sum of squared deltas) per
image, and the statistics are Darknet's "Region Avg IOU, Class, Obj, No Obj, Avg Recall, count".

The gradient is the one Darknet trains with on a GPU (its `backward_region_layer_gpu` multiplies
the x, y and objectness deltas by the logistic derivative; the CPU path of Darknet omits it).

`train_detector(...)` is what `darkpy train` / `darkpy detector train` run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from darkpy.formats.datafile import read_data_file
from darkpy.errors import CfgError, DataError
from darkpy.train.engine import StepReport, Trainer
from darkpy.detect.loader import DetectionSource, Request, RequestLoader, read_image_list

STAT_KEYS = {"avg_iou": "IOU", "class": "Class", "obj": "Obj", "no_obj": "No Obj", "avg_recall": "Recall",
             "count": "count"}


class DetectionTask:
    def __init__(self, net, train_paths: list[str], classes: int | None = None, *, workers: int = 2,
                 list_dir: str = "", logistic_gradient: bool = True):
        from darkpy.detect.loss import RegionLoss

        layers = [l for l in net.detection_layers if l.section_name == "region"]
        if not layers:
            raise CfgError("the cfg has no [region] layer: `darkpy train` trains YOLOv2-style detectors",
                           file=getattr(net, "cfg_path", None))
        self.region = layers[-1]
        if classes is not None and classes != self.region.classes:
            raise DataError(f"the .data file says classes={classes} but the cfg's [region] layer has "
                            f"classes={self.region.classes}")
        self.paths = list(train_paths)
        self.workers = workers
        self.list_dir = list_dir
        self.losses = {l.index: RegionLoss(l, logistic_gradient=logistic_gradient) for l in layers}
        self.loader: RequestLoader | None = None
        self._it = None
        self._next = None
        self.trainer = None

    # -- Task ------------------------------------------------------------------------------
    def setup(self, trainer) -> None:
        self.trainer = trainer
        self.source = self.make_source(trainer)
        for loss in self.losses.values():
            loss.to(trainer.device)
        self._start(trainer.iteration)

    def make_source(self, trainer) -> DetectionSource:
        """The worker-side data source (override point: `darkpy.wordtree.joint` mixes in
        classification-only images)."""
        n = trainer.net.net
        return DetectionSource(self.paths, self.region.classes, self.region.max_boxes, self.region.jitter,
                               n.hue, n.saturation, n.exposure, trainer.seed, self.list_dir)

    def _requests(self, start: int):
        tr = self.trainer

        def gen() -> Iterator[Request]:
            first = tr.rank * tr.images_per_rank
            for it in range(start, tr.max_batches):
                w, h = tr.size_for(it)
                for s in range(0, tr.images_per_rank, tr.mini_batch):
                    yield Request(it, first + s, min(tr.mini_batch, tr.images_per_rank - s), w, h)
        return gen

    def _start(self, iteration: int) -> None:
        self.close()
        pin = self.trainer.device.type == "cuda"
        self.loader = RequestLoader(self.source, self._requests(iteration), self.workers, pin_memory=pin)
        self._it = iter(self.loader)
        self._next = iteration

    def batches(self, size, iteration) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        tr = self.trainer
        if self._next != iteration:
            self._start(iteration)
        chunks = -(-tr.images_per_rank // tr.mini_batch)
        for _ in range(chunks):
            req, images, truth, warnings = next(self._it)
            for key, text in warnings:
                tr.warn_once(text, key=key)
            if req.iteration != iteration:  # pragma: no cover - guards the request stream
                raise RuntimeError(f"data for batch {req.iteration} arrived for batch {iteration}")
            if size is not None and (req.width, req.height) != tuple(size):
                images, truth, _ = self.source.load(Request(req.iteration, req.first, req.count, *size))
            yield images, truth
        self._next = iteration + 1

    def loss(self, net, images, targets, seen) -> StepReport:
        _, inputs = net.forward_with_inputs(images)
        total = None
        cost = 0.0
        sums: dict[str, float] = {}
        for index, raw in inputs.items():
            with torch.autocast(raw.device.type, enabled=False):  # the loss in float32 under --amp
                r = self.losses[index](raw.float(), targets, seen)
            total = r.loss if total is None else total + r.loss
            cost += float(r.cost)
            for k, v in r.summary().items():
                sums[k] = v
        stats = {STAT_KEYS[k]: v for k, v in sums.items() if k in STAT_KEYS and k != "count"}
        # count (truth boxes) is summed over the batch's passes and processes, not averaged
        return StepReport(total, stats, cost, totals={"count": float(sums.get("count", 0))})

    def close(self) -> None:
        if self.loader is not None:
            self._it = None
            self.loader.close()
            self.loader = None


@dataclass
class DataConfig:
    classes: int
    train: Path
    names: Path | None
    backup: Path
    valid: Path | None


def read_training_data(path: str | Path) -> DataConfig:
    """The `.data` keys training needs; missing ones are errors naming the file."""
    data = read_data_file(path)
    classes = data.classes
    if classes < 1:
        raise DataError(f"'classes' must be at least 1, got {classes}", file=data.path, line=data.lines.get("classes"))
    train_value = data.require("train")
    train = data.resolve("train")
    if not train.exists():
        raise DataError(f"training list '{train_value}' not found", file=data.path, line=data.lines.get("train"))
    backup = data.resolve("backup", "backup/")
    return DataConfig(classes, train, data.resolve("names"), backup, data.resolve("valid"))


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
    map_every: int = 0                 # > 0: mAP on the valid list every N batches (darkpy.eval.hook)
    class_ratio: float | None = None   # YOLO9000 joint training: at most this many classification images
                                       # per detection image (darkpy.wordtree.joint)


def _build(opts: TrainOptions, info) -> "Trainer":
    from darkpy.net.model import load_network
    from darkpy.train.engine import Trainer

    data = read_training_data(opts.data)
    paths = read_image_list(data.train)
    net = load_network(opts.cfg, opts.weights, device="cpu", seed=opts.seed)
    device = opts.device
    if opts.gpus:
        device = f"cuda:{opts.gpus[info.local_rank % len(opts.gpus)]}"
    elif opts.ddp_cpu:
        device = "cpu"
    from darkpy.wordtree.joint import make_detection_task

    task = make_detection_task(net, paths, data, opts, list_dir=str(Path(data.train).parent))
    name = opts.name or Path(opts.cfg).stem
    hooks = []
    if opts.map_every > 0 and info.is_main:
        from darkpy.eval.hook import map_hook

        hooks.append(map_hook(opts.data, every=opts.map_every))
    trainer = Trainer(net, task, name=name, backup_dir=opts.backup or data.backup, device=device, hooks=hooks,
                      max_batches=opts.max_batches, clear=opts.clear, resume=opts.resume, amp=opts.amp,
                      ddp=info, seed=opts.seed, quiet=opts.quiet, log_every=opts.log_every,
                      chart_every=opts.chart_every)
    if net.last_load is not None:
        trainer.say(str(net.last_load))
    trainer.say(f"{opts.cfg}: {len(paths)} training images from {data.train}, {data.classes} classes, "
                f"backups in {trainer.backup_dir}")
    for line in getattr(task, "describe", lambda: [])():
        trainer.say(line)
    return trainer


def _run_rank(info, opts: TrainOptions):
    return _build(opts, info).run()


def train_detector(opts: TrainOptions):
    """Train as Darknet's `detector train` does; several processes with `--gpus a,b,..`,
    `--ddp-cpu N` or under torchrun. Returns the Trainer (single process) or None."""
    from darkpy.errors import UsageError
    from darkpy.train import distributed as dd

    info = dd.from_env()
    if info.enabled:  # started by torchrun
        dd.init(info)
        try:
            return _run_rank(info, opts)
        finally:
            dd.shutdown()
    if opts.gpus and opts.ddp_cpu:
        raise UsageError("--gpus and --ddp-cpu exclude each other")
    if len(opts.gpus) > 1:
        if not torch.cuda.is_available() or torch.cuda.device_count() <= max(opts.gpus):
            raise UsageError(f"--gpus {','.join(map(str, opts.gpus))}: only {torch.cuda.device_count()} CUDA "
                             f"device(s) here")
        dd.launch(_run_rank, len(opts.gpus), (opts,), backend="nccl")
        return None
    if opts.ddp_cpu > 1:
        dd.launch(_run_rank, opts.ddp_cpu, (opts,), backend="gloo")
        return None
    return _run_rank(dd.SINGLE, opts)
