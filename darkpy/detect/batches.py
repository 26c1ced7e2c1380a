"""Images for a detector, loaded in batches by background workers.

`darkpy detect`, `darkpy valid`/`map` and `darkpy recall` all read a list of images, prepare each
for the network (Darknet's letterbox or plain resize), and run them in batches; an unreadable
image is reported and skipped while the others go on. This is that shared piece, for both
engines: `load_images` (in this process, numpy; the torch-free engine) and `image_batches` (torch's
DataLoader, optionally with worker processes). torch is imported only by `image_batches`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence


import numpy as np

from darkpy.errors import DarkpyError
from darkpy.formats.image import prepare_bgr, read_bgr
from darkpy.formats.labels import resolve_entry


@dataclass
class LoadedImage:
    entry: str                           # as given (list entry or path; "<array N>" for an array)
    x: np.ndarray | None                 # C x H x W float32 network input, None when unreadable
    size: tuple[int, int] | None         # original (width, height)
    image: np.ndarray | None = None      # the BGR image, when asked for (drawing)
    error: DarkpyError | None = None
    index: int = 0                       # position in the input


class ImageSet:
    """Paths (or list entries) and in-memory uint8 arrays, mixed; arrays are BGR unless `rgb`
    (a map-style dataset for torch's DataLoader, or indexed directly)."""

    def __init__(self, entries: Sequence, w: int, h: int, letterbox: bool, base: Path | None = None,
                 keep_image: bool = False, rgb: bool = False):
        self.entries = [e if isinstance(e, np.ndarray) else str(e) for e in entries]
        self.w, self.h, self.letterbox = w, h, letterbox
        self.base, self.keep_image, self.rgb = base, keep_image, rgb

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> LoadedImage:
        entry = self.entries[i]
        try:
            if isinstance(entry, np.ndarray):
                bgr = entry[:, :, ::-1] if self.rgb and entry.ndim == 3 else entry
                entry = f"<array {i}>"
            else:
                bgr = read_bgr(resolve_entry(entry, self.base))
            x, size = prepare_bgr(bgr, self.w, self.h, self.letterbox), (int(bgr.shape[1]), int(bgr.shape[0]))
        except DarkpyError as exc:
            return LoadedImage(entry, None, None, error=exc, index=i)
        return LoadedImage(entry, x, size, bgr if self.keep_image else None, index=i)


def _collate(items):
    return items


def image_batches(entries: Sequence, w: int, h: int, letterbox: bool, batch: int = 1, workers: int = 0,
                  base: Path | None = None, keep_image: bool = False,
                  on_error: Callable[[LoadedImage], None] | None = None, rgb: bool = False
                  ) -> Iterator[tuple[list[LoadedImage], int]]:
    """Yields (the readable images of a batch, how many entries the batch covered); unreadable
    ones go to `on_error` instead."""
    import torch

    loader = torch.utils.data.DataLoader(ImageSet(entries, w, h, letterbox, base, keep_image, rgb),
                                         batch_size=max(1, int(batch)), num_workers=max(0, int(workers)),
                                         collate_fn=_collate)
    yield from _split(loader, on_error)


def load_images(entries: Sequence, w: int, h: int, letterbox: bool, batch: int = 1, base: Path | None = None,
                keep_image: bool = False, on_error: Callable[[LoadedImage], None] | None = None, rgb: bool = False
                ) -> Iterator[tuple[list[LoadedImage], int]]:
    """`image_batches` in this process, without torch."""
    images = ImageSet(entries, w, h, letterbox, base, keep_image, rgb)
    batch = max(1, int(batch))
    chunks = ([images[i] for i in range(start, min(start + batch, len(images)))]
              for start in range(0, len(images), batch))
    yield from _split(chunks, on_error)


def _split(chunks, on_error) -> Iterator[tuple[list[LoadedImage], int]]:
    for items in chunks:
        good = []
        for item in items:
            if item.error is not None:
                if on_error is not None:
                    on_error(item)
            else:
                good.append(item)
        yield good, len(items)
