"""Detection training (YOLOv2): the engine's `Task` for a region-layer network and a `.data` file.

`DetectionTask` turns Darknet's image list into mini-batches (`darkpy.train.detection.loader`: worker
processes, Darknet's augmentation, truth as `max_boxes` rows of `x y w h class`) and computes the
region loss of every `[region]` layer (`darkpy.train.detection.loss.RegionLoss`). The loss fed to
autograd has Darknet's gradient; the printed loss is Darknet's cost (sum of squared deltas) per
image, and the statistics are Darknet's "Region Avg IOU, Class, Obj, No Obj, Avg Recall, count".

The gradient is the one Darknet trains with on a GPU (its `backward_region_layer_gpu` multiplies
the x, y and objectness deltas by the logistic derivative; the CPU path of Darknet omits it).

The joint (YOLO9000) task builds on this one (`darkpy.train.joint`); `darkpy.train.detection.train`
picks the task and runs the engine.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from darkpy.formats.labelcache import LabelCache
from darkpy.train.detection.loader import DetectionSource, Request, RequestLoader, label_index
from darkpy.train.detection.loss import RegionLoss
from darkpy.errors import CfgError, DataError
from darkpy.train.engine import StepReport

STAT_KEYS = {"avg_iou": "IOU", "class": "Class", "obj": "Obj", "no_obj": "No Obj", "avg_recall": "Recall",
             "count": "count"}


class DetectionTask:
    def __init__(self, net, train_paths: list[str], classes: int | None = None, *, workers: int = 2,
                 list_dir: str = "", logistic_gradient: bool = True):
        layers = [l for l in net.detection_layers if l.section_name == "region"]
        if not layers:
            raise CfgError("the cfg has no [region] layer: `darkpy train` trains YOLOv2-style detectors",
                           file=getattr(net, "cfg_path", None))
        net.net.check_image_channels(getattr(net, "cfg_path", None), detector=True)
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
        """The worker-side data source (override point: `darkpy.train.joint` mixes in
        classification-only images)."""
        n = trainer.net.net
        source = DetectionSource(self.paths, self.region.classes, self.region.max_boxes, self.region.jitter,
                                 n.hue, n.saturation, n.exposure, trainer.seed, self.list_dir)
        source.index = label_index(source, LabelCache())
        return source

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
        total = cost = None
        sums: dict[str, torch.Tensor] = {}
        for index, raw in inputs.items():
            with _float32(raw.device):  # the loss in float32 under --amp
                r = self.losses[index](raw.float(), targets, seen)
            total = r.loss if total is None else total + r.loss
            cost = r.cost if cost is None else cost + r.cost
            sums.update(r.summary_tensors())   # device tensors: the engine reads them once per step
        stats = {STAT_KEYS[k]: v for k, v in sums.items() if k in STAT_KEYS and k != "count"}
        # count (truth boxes) is summed over the batch's passes and processes, not averaged
        return StepReport(total, stats, cost, totals={"count": sums["count"]})

    def close(self) -> None:
        if self.loader is not None:
            self._it = None
            self.loader.close()
            self.loader = None


def _float32(device: torch.device):
    """Autocast off for the loss (a no-op where autocast does not exist, as on `meta`)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()
