"""Detection mini-batches from a Darknet image list, made by DataLoader worker processes.

Every mini-batch is a *request* `(iteration, first slot, count, width, height)`; the engine's
sampler makes the requests in the main process, with the size of that batch from the multi-scale
schedule, and workers (any of them, in any order) turn a request into images. So a new size
reaches every worker with the very requests that need it, and the data of a batch does not depend
on the number of workers or processes.

Image `slot` of batch `iteration` (slots 0..batch-1 over all ranks) is drawn from its own random
stream seeded by (seed, iteration, slot): which image (uniformly from the list, with replacement:
Darknet's `get_random_paths`), the crop, flip and colour distortion (`darkpy.train.augment`). A
single-process run and an N-process run therefore see the same images in the same mini-batches.

An image that cannot be read is replaced by another draw and reported once; a label file that is
missing means no boxes (reported once for the whole run); a label line that cannot be used
(wrong field count, class or coordinates out of range) is skipped and reported with its file and
line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from darkpy.train.augment import augment_detection
from darkpy.errors import DarkpyError, DataError, WorkerFailure
from darkpy.formats.image import read_rgb as read_image_rgb
from darkpy.formats.labelcache import LabelCache
from darkpy.formats.labels import label_file, read_label_file, resolve_entry
from darkpy.formats.labelset import LabelSet, read_label_set
from darkpy.formats.datafile import read_list

MISSING_LABELS = "missing-labels"


def missing_labels_message(path, image, why: str = "") -> str:
    return (f"no label file {path} for {image}{why}: trained as an image with no objects, as Darknet "
            f"does (other images without labels are not reported)")


def read_rgb_or_warn(path: str, warnings: list) -> np.ndarray | None:
    """An image as RGB float32 in [0, 1] (H x W x 3), or None with a warning when unreadable
    (`darkpy.formats.image.read_bgr` decides, for every command): training replaces it by
    another draw instead of stopping."""
    try:
        return read_image_rgb(path)
    except DataError as exc:
        warnings.append((f"bad-image:{path}", f"{exc}: skipped"))
        return None


@dataclass(frozen=True)
class Request:
    iteration: int
    first: int      # first global slot
    count: int
    width: int
    height: int


@dataclass
class DetectionSource:
    """Everything a worker needs (plain values: pickled once per worker)."""

    paths: list[str]
    classes: int
    max_boxes: int
    jitter: float
    hue: float
    saturation: float
    exposure: float
    seed: int = 0
    list_dir: str = ""
    index: LabelSet | None = None   # every entry's label file, parsed once (`label_index`)

    def resolve(self, path: str) -> str:
        return str(resolve_entry(path, self.list_dir or None))

    def read_labels(self, image: str, warnings: list[tuple[str, str]], entry: int | None = None) -> np.ndarray:
        """The (n, 5) class x y w h rows of `image` (classification-only lines as marker rows);
        unusable lines are skipped and reported, a missing file means no objects. `entry`: the
        list index of `image`, whose file the index holds (read at the start)."""
        if entry is not None and self.index is not None:
            path = self.index.paths[entry]
            labels = self.index.labels(entry)   # an unreadable file raises its DataError here
        else:
            path = label_file(image, self.list_dir or None)
            labels = read_label_file(path, self.classes, missing_ok=True)
        if labels is None:
            warnings.append((MISSING_LABELS, missing_labels_message(path, image)))
            return np.zeros((0, 5), np.float32)
        for problem in labels.problems:
            warnings.append((str(problem), f"{problem} (line skipped)"))
        return labels.rows().copy()  # the index's rows are shared by every draw: never handed out

    def load(self, req: Request) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:

        warnings: list[tuple[str, str]] = []
        images = np.empty((req.count, 3, req.height, req.width), np.float32)
        truth = np.zeros((req.count, self.max_boxes, 5), np.float32)
        for k in range(req.count):
            rng = np.random.default_rng([self.seed, req.iteration, req.first + k])
            for _attempt in range(100):
                entry = int(rng.integers(len(self.paths)))
                path = self.resolve(self.paths[entry])
                rgb = read_rgb_or_warn(path, warnings)
                if rgb is not None:
                    break
            else:
                raise DataError(f"100 images in a row could not be read (last: {path})")
            labels = self.read_labels(path, warnings, entry)
            images[k], truth[k] = augment_detection(rgb, labels, rng, req.width, req.height, jitter=self.jitter,
                                                    hue=self.hue, saturation=self.saturation,
                                                    exposure=self.exposure, max_boxes=self.max_boxes)
        return torch.from_numpy(images), torch.from_numpy(truth), warnings


def label_index(source: DetectionSource, cache: LabelCache | None = None) -> LabelSet:
    """The label file of every list entry, read at the start in one pass (threads, numpy parsing,
    `cache` for files unchanged since an earlier run) instead of one open per drawn image. Each
    entry's file is the one a worker would open for it (`label_file` of the resolved image), and
    `LabelSet.labels` gives what `read_label_file` gives (boxes, problems, read errors)."""
    paths = [os.fspath(label_file(source.resolve(p), source.list_dir or None)) for p in source.paths]
    return read_label_set(paths, source.classes, cache=cache)


class _RequestDataset(torch.utils.data.Dataset):
    def __init__(self, source: DetectionSource):
        self.source = source

    def __getitem__(self, req: Request):
        try:
            return req, *self.source.load(req)
        except DarkpyError as exc:
            return WorkerFailure(exc)

    def __len__(self) -> int:  # pragma: no cover - requests come from the sampler
        return 1 << 62


class _RequestSampler(torch.utils.data.Sampler):
    def __init__(self, requests: Callable[[], Iterator[Request]]):
        self.requests = requests

    def __iter__(self):
        return self.requests()


def _worker_init(_):
    import atexit
    import os

    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    # A worker stopped while batches are still in flight (end of training, a resize of the
    # request stream) would otherwise abort in C++ static destructors ("terminate called
    # without an active exception") during interpreter shutdown; it has nothing left to flush.
    atexit.register(os._exit, 0)


class RequestLoader:
    """Iterates the results of `requests()` (in order), made by `workers` processes (0: inline).

    Workers are *spawned*, not forked: a process that has already run OpenCV (or OpenMP) code
    holds thread pools whose locks a forked child inherits in a random state, and such a child
    can hang on its first `cv2` call.
    """

    def __init__(self, source: DetectionSource, requests: Callable[[], Iterator[Request]], workers: int = 2,
                 pin_memory: bool = False, prefetch: int = 2, context: str = "spawn"):
        self.source = source
        self.requests = requests
        self.workers = workers
        if workers > 0:
            self.loader = torch.utils.data.DataLoader(
                _RequestDataset(source), batch_size=None, sampler=_RequestSampler(requests), num_workers=workers,
                pin_memory=pin_memory, prefetch_factor=prefetch, persistent_workers=False,
                worker_init_fn=_worker_init, collate_fn=_identity, multiprocessing_context=context)
        else:
            self.loader = None
        self._it = None

    def __iter__(self):
        if self.loader is not None:
            return _unwrap(iter(self.loader))
        return ((req, *self.source.load(req)) for req in self.requests())

    def close(self) -> None:
        self.loader = None


def _identity(x):
    return x


def _unwrap(items):
    for item in items:
        if isinstance(item, WorkerFailure):
            raise item.error
        yield item


def read_image_list(path: str | Path) -> list[str]:
    paths = read_list(path)
    if not paths:
        raise DataError("the training list is empty", file=path)
    return paths
