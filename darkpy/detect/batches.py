"""Images for a detector, loaded in batches by background workers.

`darkpy detect`, `darkpy valid`/`map` and `darkpy recall` all read a list of images, prepare each
for the network (Darknet's letterbox or plain resize), and run them in batches; an unreadable
image is reported and skipped while the others go on. This is that shared piece.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from darkpy.errors import DarkpyError, DataError


@dataclass
class LoadedImage:
    entry: str                           # as given (list entry or path)
    x: torch.Tensor | None               # C x H x W network input, None when unreadable
    size: tuple[int, int] | None         # original (width, height)
    image: np.ndarray | None = None      # the BGR image, when asked for (drawing)
    error: DarkpyError | None = None


def find_image(entry: str, base: Path | None) -> Path:
    """A list entry as written (Darknet reads it relative to the working directory), else beside the list."""
    p = Path(entry)
    if p.is_file() or base is None or p.is_absolute():
        return p
    beside = base / entry
    return beside if beside.is_file() else p


class ImageSet(torch.utils.data.Dataset):
    def __init__(self, entries: Sequence[str], w: int, h: int, letterbox: bool, base: Path | None = None,
                 keep_image: bool = False):
        self.entries, self.w, self.h, self.letterbox = [str(e) for e in entries], w, h, letterbox
        self.base, self.keep_image = base, keep_image

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> LoadedImage:
        from darkpy.formats.image import prepare_bgr, read_bgr

        entry = self.entries[i]
        try:
            bgr = read_bgr(find_image(entry, self.base))
        except DarkpyError as exc:
            return LoadedImage(entry, None, None, error=exc)
        x = torch.from_numpy(prepare_bgr(bgr, self.w, self.h, self.letterbox))  # resized on uint8
        return LoadedImage(entry, x, (int(bgr.shape[1]), int(bgr.shape[0])), bgr if self.keep_image else None)


def _collate(items):
    return items


def detection_layers(predictor) -> list:
    """The predictor's region/yolo layers; a network without any is not a detector."""
    layers = predictor.detection_layers
    if not layers:
        raise DataError("the network has no [region] or [yolo] layer: it is not a detector",
                        file=getattr(predictor.model, "cfg_path", None))
    return layers


def image_batches(entries: Sequence[str], w: int, h: int, letterbox: bool, batch: int = 1, workers: int = 0,
                  base: Path | None = None, keep_image: bool = False,
                  on_error: Callable[[LoadedImage], None] | None = None
                  ) -> Iterator[tuple[list[LoadedImage], int]]:
    """Yields (the readable images of a batch, how many entries the batch covered); unreadable
    ones go to `on_error` instead."""
    loader = torch.utils.data.DataLoader(ImageSet(entries, w, h, letterbox, base, keep_image),
                                         batch_size=max(1, int(batch)), num_workers=max(0, int(workers)),
                                         collate_fn=_collate)
    for items in loader:
        good = []
        for item in items:
            if item.error is not None:
                if on_error is not None:
                    on_error(item)
            else:
                good.append(item)
        yield good, len(items)
