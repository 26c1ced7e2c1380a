"""mAP during training (`darkpy train ... --map`): a hook for the training engine.

Every `every` batches (and once after the last one) the network being trained is copied,
folded for inference, set to the cfg's own input size and run over the `.data` file's valid
list exactly as `darkpy valid` runs it; the detections are scored against the list's labels
with the same evaluator as `darkpy map`. Then:

- a line `mAP@0.50 = ... at batch N (best ... at batch M)` is printed;
- when the mAP beats the best so far, the weights are saved as `BACKUP/NAME_best.weights`;
- the points are drawn under the loss curve in `BACKUP/chart.png` and written to
  `BACKUP/NAME_map.json` (a report for people and scripts).

The points and the best so far are the hook's state: they travel in the trainer's state dict,
saved with each backup, so `--resume` picks them up with the weights they belong to.

Wiring in a training command::

    from darkpy.train.map_hook import map_hook
    hooks.append(map_hook(data_path, every=map_every))

The ground truth (label files, image sizes) is read once, when the hook is made, so a broken
valid set fails before training starts, not hours into it.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from darkpy.charts import Chart
from darkpy.detect.options import DetectOptions
from darkpy.errors import UsageError
from darkpy.eval.groundtruth import gt_from_labels
from darkpy.eval.run import valid_setup
from darkpy.eval.score import map_value, score_valid
from darkpy.fileio import write_text_atomic
from darkpy.train.hooks import Hook


@dataclass
class MapPoint:
    iteration: int
    map: float
    seconds: float


class MapEvaluator:
    """Callable `fn(trainer)` for the engine's `Hook`; see the module doc."""

    def __init__(self, data: str | Path, *, metric: str = "voc", iou_thresh: float = 0.5, batch: int = 8,
                 workers: int = 0, every: int = 0):
        self.setup = valid_setup(data)
        self.metric = metric
        if metric not in ("voc07", "voc", "coco"):
            raise UsageError(f"the mAP metric must be voc07, voc or coco, got {metric!r}")
        self.iou_thresh, self.batch, self.workers, self.every = iou_thresh, batch, workers, every
        self.truth = gt_from_labels(self.setup.list_path, self.setup.names)
        self.points: list[MapPoint] = []
        self.best: MapPoint | None = None
        self.last_report = None

    # -- scoring -------------------------------------------------------------------------------
    def score(self, net, size: tuple[int, int] | None = None) -> tuple[float, Any]:
        """mAP of `net` (left untouched: a fused copy is run) at `size` (default: its current one)."""
        width, height = size if size is not None else (None, None)
        options = DetectOptions.valid(batch=self.batch, workers=self.workers, width=width, height=height)
        scored = score_valid(self.setup, net, options, score=True, truth=self.truth, metric=self.metric,
                             iou_thresh=self.iou_thresh, progress=False, on_skip=lambda entry, why: None)
        return map_value(scored.report, self.metric), scored.report

    # -- the hook --------------------------------------------------------------------------------
    def _paths(self, trainer) -> tuple[Path, Path]:
        folder = Path(trainer.backup_dir)
        return folder / f"{trainer.name}_best.weights", folder / f"{trainer.name}_map.json"

    def state_dict(self) -> dict[str, Any]:
        return {"points": [[p.iteration, p.map, p.seconds] for p in self.points]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.points = [MapPoint(int(p[0]), float(p[1]), float(p[2])) for p in state.get("points", [])]
        self.best = max(self.points, key=lambda p: p.map) if self.points else None

    def __call__(self, trainer) -> None:
        if not getattr(trainer, "is_main", True):
            return
        it = int(trainer.iteration)
        if self.points and self.points[-1].iteration == it:
            return  # the end-of-training call right after a periodic one
        base = getattr(trainer, "base_size", None)
        t0 = time.perf_counter()
        value, report = self.score(trainer.net, base)
        point = MapPoint(it, value, time.perf_counter() - t0)
        self.points.append(point)
        self.last_report = report
        best_path, side = self._paths(trainer)
        improved = self.best is None or value > self.best.map
        if improved:
            self.best = point
            write = getattr(trainer, "_write", None)
            if write is not None:
                improved = write(best_path, lambda: trainer.net.save_weights(best_path))
            else:
                trainer.net.save_weights(best_path)
        label = {"voc07": "VOC07 11-point", "voc": "VOC area", "coco": "COCO"}[self.metric]
        say = getattr(trainer, "say", print)
        images = len(self.setup.entries)
        say(f"mAP@{self.iou_thresh:.2f} ({label}) = {value:.4f} at batch {it} on {images} images "
            f"({point.seconds:.1f} s); best {self.best.map:.4f} at batch {self.best.iteration}"
            + (f" -> saved {best_path}" if improved else ""))
        try:
            write_text_atomic(side, json.dumps({
                "metric": self.metric, "iou_thresh": self.iou_thresh,
                "points": [[p.iteration, p.map, p.seconds] for p in self.points],
                "best": [self.best.iteration, self.best.map]}, indent=1) + "\n")
        except OSError as exc:
            getattr(trainer, "warn_once", print)(f"cannot write {side}: {exc}")
        trainer.save_chart()

    # -- chart -------------------------------------------------------------------------------------
    def chart_tile(self, trainer, xlim=None):
        """mAP against batches (0..1), drawn by the trainer under its loss curve in chart.png."""
        if not self.points:
            return None
        label = {"voc07": "VOC07", "voc": "VOC", "coco": "COCO"}[self.metric]
        best = self.best
        chart = Chart(f"mAP@{self.iou_thresh:.2f} ({label}) on the valid list; best {best.map:.4f} at "
                      f"batch {best.iteration}", "batch", "mAP", ylim=(0, 1), size=(800, 300))
        xs = [p.iteration for p in self.points]
        chart.xlim = xlim
        chart.add(xs, [p.map for p in self.points], "mAP", points=len(xs) == 1)
        chart.mark(best.iteration, best.map, f"{best.map:.3f}")
        return chart.render()


SECONDS_PER_IMAGE = 2.0    # what the other ranks allow per valid image: far above a CPU's ~0.3 s at 416
WAIT_BASE = 600.0          # ... plus this, for loading and scoring


def wait_seconds(images: int) -> float:
    """How long ranks 1.. wait for rank 0's evaluation of `images` valid images."""
    return WAIT_BASE + SECONDS_PER_IMAGE * max(0, int(images))


class MapHook(Hook):
    """The engine hook around a `MapEvaluator`: runs it every N batches and after the last one;
    its points are part of the trainer's saved state.

    Several processes: every rank has the hook; rank 0 (which holds an evaluator) scores the
    whole valid list -- the same mAP a single process reports -- while the others wait for it in
    a barrier on a gloo group of their own whose timeout is sized for the list
    (`wait_seconds`), not in the next training collective, whose timeout a long validation
    would outlast (killing the job)."""

    def __init__(self, evaluator: MapEvaluator | None, every: int, images: int | None = None):
        super().__init__(every, self._run, when="after", name="map", at_end=True)
        self.evaluator = evaluator
        self.images = len(evaluator.setup.entries) if evaluator is not None else int(images or 0)
        self._group = None

    def _run(self, trainer) -> None:
        dist_info = getattr(trainer, "dist", None)
        if dist_info is None or not dist_info.enabled:
            if self.evaluator is not None:
                self.evaluator(trainer)
            return
        try:
            if trainer.is_main and self.evaluator is not None:
                self.evaluator(trainer)
        finally:
            self._wait(trainer)

    def _wait(self, trainer) -> None:
        """All ranks meet here after rank 0's evaluation (see the class doc)."""
        from datetime import timedelta

        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return
        if self._group is None:   # collective: every rank reaches its first call at the same batch
            self._group = dist.new_group(backend="gloo", timeout=timedelta(seconds=wait_seconds(self.images)))
        dist.barrier(group=self._group)

    def release(self) -> None:
        """The run is over: let go of the barrier's group before the process group is destroyed."""
        self._group = None

    def state_dict(self) -> dict[str, Any]:
        return self.evaluator.state_dict() if self.evaluator is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.evaluator is not None:
            self.evaluator.load_state_dict(state)

    def chart_tile(self, trainer, xlim=None):
        return self.evaluator.chart_tile(trainer, xlim) if self.evaluator is not None else None


def map_hook(data: str | Path, every: int = 100, *, main: bool = True, **kwargs):
    """A hook evaluating mAP on `data`'s valid list every `every` batches and after the last one.
    `main=False` (ranks other than 0): a hook that only waits for rank 0's evaluation; it reads
    the list's length, not its labels."""
    if every <= 0:
        raise UsageError(f"mAP needs a positive number of batches between evaluations, got {every}")
    if not main:
        return MapHook(None, every, images=len(valid_setup(data).entries))
    return MapHook(MapEvaluator(data, every=every, **kwargs), every)
