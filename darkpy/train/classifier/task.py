"""The classification `Task` for the shared training engine (`darkpy.train.engine.Trainer`).

Per batch Darknet's `train_classifier` draws `batch` paths at random (with replacement:
`get_random_paths`), loads and augments each (`load_data_augment`), builds one truth row per
image (`fill_truth`, `fill_hierarchy`), and trains on them in `subdivisions` forward/backward
passes. `ClassificationTask.batches` yields this rank's share of those images in mini-batches;
`loss` is `darkpy.train.classifier.loss.classification_loss`.

Image slot `k` of batch `i` (slots numbered over all ranks, as the detection loader does) has its
own random stream seeded by (seed, i, k): which image, then its crop, flip and colours. A run
therefore sees the same images whatever its number of processes or threads, and a resumed run
continues exactly. Loading runs on a thread pool (OpenCV releases the GIL) and the next batch
is prepared while the current one trains.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np
import torch

from darkpy.train.classifier.augment import AugmentConfig, augment
from darkpy.classify.image import load_rgb, to_chw
from darkpy.classify.labels import LabelledList
from darkpy.train.classifier.loss import Head, build_truth, classification_loss, find_head
from darkpy.wordtree.hierarchy import hierarchy_predictions
from darkpy.train.engine import StepReport


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 2))


class ClassificationTask:
    """Darknet's classification data and loss for one network and one labelled image list."""

    def __init__(self, net, items: LabelledList, *, seed: int = 0, threads: int | None = None,
                 smooth: float | None = None, prefetch: bool = True):
        self.items = items
        self.head: Head = find_head(net)
        cfg = net.net
        self.base = AugmentConfig.from_net(cfg)
        cfg.check_image_channels(getattr(net, "cfg_path", None), detector=False)
        self.width, self.height, self.channels = cfg.width, cfg.height, cfg.channels
        self.seed = int(seed)
        self.rank, self.images_per_rank, self.mini_batch = 0, max(1, cfg.batch), cfg.mini_batch
        self.smooth = float(getattr(cfg, "label_smooth_eps", 0.0) if smooth is None else smooth)
        if not 0 <= self.smooth < 1:
            raise ValueError(f"label smoothing must be in [0, 1), got {self.smooth}")
        self.n_labels = len(items.labels)
        self.threads = threads or default_threads()
        self.pool: ThreadPoolExecutor | None = None
        self.prefetch = prefetch
        self._pending: dict[tuple[int, tuple[int, int] | None], list[Future]] = {}
        # one throwaway truth row checks the label count against the network now, not mid-run
        build_truth(np.zeros(1, np.int64), self.head.outputs, self.n_labels, self.head.tree, self.smooth)

    def setup(self, trainer) -> None:
        """Called by the Trainer before the first batch: this rank's share and the run's seed."""
        self.rank, self.seed = trainer.rank, int(trainer.seed)
        self.images_per_rank, self.mini_batch = trainer.images_per_rank, trainer.mini_batch

    # -- data -----------------------------------------------------------------------------
    def _load_one(self, iteration: int, slot: int, cfg: AugmentConfig) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng([self.seed, int(iteration), int(slot)])
        index = int(rng.integers(len(self.items)))
        return to_chw(augment(load_rgb(self.items.paths[index]), rng, cfg), self.channels), index

    def _submit(self, iteration: int, size: tuple[int, int] | None) -> list[Future]:
        key = (iteration, size)
        if key not in self._pending:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="darkpy-cls")
            cfg = self.base if size is None else AugmentConfig.from_net(_AugmentAt(self), size)
            first = self.rank * self.images_per_rank
            self._pending[key] = [self.pool.submit(self._load_one, iteration, first + k, cfg)
                                  for k in range(self.images_per_rank)]
        return self._pending[key]

    def batches(self, size: tuple[int, int] | None, iteration: int) -> Iterator[tuple[torch.Tensor, Any]]:
        """This rank's images of batch `iteration` in mini-batches: (N x 3 x H x W, truth N x outputs)."""
        if size is not None and tuple(size) == (self.width, self.height):
            size = None
        futures = self._submit(iteration, size)
        if self.prefetch:
            self._submit(iteration + 1, size)
        try:
            for start in range(0, len(futures), self.mini_batch):
                done = [f.result() for f in futures[start:start + self.mini_batch]]
                images = np.stack([d[0] for d in done])
                classes = self.items.classes[[d[1] for d in done]]
                truth = build_truth(classes, self.head.outputs, self.n_labels, self.head.tree, self.smooth)
                yield torch.from_numpy(images), torch.from_numpy(truth)
        finally:
            for key in [k for k in self._pending if k[0] <= iteration]:
                del self._pending[key]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        self._pending.clear()

    # -- loss -----------------------------------------------------------------------------
    def loss(self, net, images: torch.Tensor, targets: torch.Tensor, seen: int) -> StepReport:
        parts = classification_loss(net, self.head, images, targets)
        stats = {"top1": top1_accuracy(parts.probs, targets, self.head, self.n_labels)}
        return StepReport(parts.loss, stats, cost=parts.loss.detach())   # device tensors: read once per step


class _AugmentAt:
    """The cfg's augmentation settings in [net] form (for `AugmentConfig.from_net` at another size)."""

    def __init__(self, task: ClassificationTask):
        b = task.base
        self.width, self.height = task.width, task.height
        self.min_crop, self.max_crop = b.min_crop, b.max_crop
        self.angle, self.aspect, self.hue = b.angle, b.aspect, b.hue
        self.saturation, self.exposure, self.center = b.saturation, b.exposure, int(b.center)


def top1_accuracy(probs: torch.Tensor, truth: torch.Tensor, head: Head, n_labels: int) -> torch.Tensor:
    """Share of images whose most likely class is the labelled one (WordTree: most likely leaf), as
    a 0-dim tensor on the device (the engine reads it with the step's other numbers)."""
    t = truth.to(probs.device).reshape(probs.shape[0], -1)
    if head.tree is not None:
        p = hierarchy_predictions(probs, head.tree, only_leaves=True)
        leaf = torch.as_tensor(head.tree.leaf, device=t.device)
        labelled = torch.where((t == 1) & leaf, t, torch.zeros_like(t))
    else:
        p, labelled = probs, t
    p, labelled = p[:, :n_labels], labelled[:, :n_labels]
    return (p.argmax(1) == labelled.argmax(1)).float().mean()
