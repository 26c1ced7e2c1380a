"""The classification `Task` for the shared training engine (`darkpy.train.engine.Trainer`).

Per iteration Darknet's `train_classifier` draws `batch` paths at random (with replacement:
`get_random_paths`), loads and augments each (`load_data_augment`), builds one truth row per
image (`fill_truth`, `fill_hierarchy`), and trains on the batch in `subdivisions` forward /
backward passes. `ClassificationTask.batches` yields those mini-batches; `loss` is
`darkpy.classify.loss.classification_loss`. Image loading runs on a thread pool (OpenCV releases
the GIL) and the next iteration's batch is prepared while the current one trains.

Randomness is a function of (seed, rank, iteration, image slot), so a resumed run or a rerun
with the same seed draws the same images and augmentations.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from darkpy.classify.augment import AugmentConfig, augment
from darkpy.classify.image import load_rgb, to_chw
from darkpy.classify.labels import LabelledList
from darkpy.classify.loss import Head, build_truth, classification_loss, find_head, hierarchy_predictions

try:  # the engine's report type, once the engine is merged
    from darkpy.train.engine import StepReport
except ImportError:  # pragma: no cover - before the engine lands
    @dataclass
    class StepReport:  # type: ignore[no-redef]
        loss: torch.Tensor
        stats: dict[str, float]


def default_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


class ClassificationTask:
    """Darknet's classification data and loss for one network and one labelled image list."""

    def __init__(self, net, items: LabelledList, *, seed: int = 0, rank: int = 0, threads: int | None = None,
                 smooth: float | None = None, prefetch: bool = True):
        self.items = items
        self.head: Head = find_head(net)
        cfg = net.net
        self.batch = max(1, cfg.batch)
        self.subdivisions = max(1, cfg.subdivisions)
        self.mini_batch = cfg.mini_batch
        self.base = AugmentConfig.from_net(cfg)
        self.width, self.height = cfg.width, cfg.height
        self.seed, self.rank = int(seed), int(rank)
        self.smooth = float(getattr(cfg, "label_smooth_eps", 0.0) if smooth is None else smooth)
        self.n_labels = len(items.labels)
        self.pool = ThreadPoolExecutor(max_workers=threads or default_threads())
        self.prefetch = prefetch
        self._pending: dict[tuple[int, tuple[int, int] | None], list[Future]] = {}
        # a throwaway truth row checks the label count against the network now, not mid-run
        build_truth(np.zeros(1, np.int64), self.head.outputs, self.n_labels, self.head.tree, self.smooth)

    # -- data -----------------------------------------------------------------------------
    def _rng(self, iteration: int, slot: int | None = None) -> np.random.Generator:
        key = [self.seed, self.rank, int(iteration)] + ([] if slot is None else [slot])
        return np.random.default_rng(key)

    def draw(self, iteration: int) -> np.ndarray:
        """Indexes of the images for one iteration (the whole `batch`), with replacement."""
        return self._rng(iteration).integers(0, len(self.items), size=self.batch)

    def _load_one(self, index: int, iteration: int, slot: int, cfg: AugmentConfig) -> np.ndarray:
        im = load_rgb(self.items.paths[index])
        return to_chw(augment(im, self._rng(iteration, slot), cfg))

    def _submit(self, iteration: int, size: tuple[int, int] | None) -> list[Future]:
        key = (iteration, size)
        if key not in self._pending:
            cfg = self.base if size is None else AugmentConfig.from_net(_NetAt(self), size)
            picks = self.draw(iteration)
            self._pending[key] = [self.pool.submit(self._load_one, int(i), iteration, s, cfg)
                                  for s, i in enumerate(picks)]
        return self._pending[key]

    def batches(self, size: tuple[int, int] | None, iteration: int) -> Iterator[tuple[torch.Tensor, Any]]:
        """The `subdivisions` mini-batches of iteration `iteration`: (N x 3 x H x W, truth N x outputs)."""
        if size is not None and tuple(size) == (self.width, self.height):
            size = None
        futures = self._submit(iteration, size)
        if self.prefetch:
            self._submit(iteration + 1, size)
        picks = self.draw(iteration)
        truth = build_truth(self.items.classes[picks], self.head.outputs, self.n_labels, self.head.tree,
                            self.smooth)
        try:
            for start in range(0, self.batch, self.mini_batch):
                stop = min(start + self.mini_batch, self.batch)
                images = np.stack([f.result() for f in futures[start:stop]])
                yield torch.from_numpy(images), torch.from_numpy(truth[start:stop])
        finally:
            self._pending.pop((iteration, size), None)
            for key in [k for k in self._pending if k[0] < iteration]:
                del self._pending[key]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- loss -----------------------------------------------------------------------------
    def loss(self, net, images: torch.Tensor, targets: torch.Tensor, seen: int) -> StepReport:
        parts = classification_loss(net, self.head, images, targets)
        stats = {"top1": top1_accuracy(parts.probs, targets, self.head, self.n_labels)}
        if self.head.uses_softmax:
            stats["xent"] = parts.softmax_cost / max(1, images.shape[0])
        return StepReport(parts.loss, stats)


class _NetAt:
    """A [net] stand-in carrying the cfg's augmentation settings (for `AugmentConfig.from_net`)."""

    def __init__(self, task: ClassificationTask):
        b = task.base
        self.width, self.height = task.width, task.height
        self.min_crop, self.max_crop = b.min_crop, b.max_crop
        self.angle, self.aspect, self.hue = b.angle, b.aspect, b.hue
        self.saturation, self.exposure, self.center = b.saturation, b.exposure, int(b.center)


def top1_accuracy(probs: torch.Tensor, truth: torch.Tensor, head: Head, n_labels: int) -> float:
    """Share of images whose most likely class is the labelled one (tree: most likely leaf)."""
    t = truth.to(probs.device).reshape(probs.shape[0], -1)
    if head.tree is not None:
        p = hierarchy_predictions(probs, head.tree, only_leaves=True)
        labelled = torch.where(t == 1, t, torch.zeros_like(t)) * torch.as_tensor(head.tree.leaf, device=t.device)
    else:
        p, labelled = probs, t
    p, labelled = p[:, :n_labels], labelled[:, :n_labels]
    return float((p.argmax(1) == labelled.argmax(1)).float().mean())
