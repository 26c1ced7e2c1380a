"""Collecting the (w, h) of every training box, from a .data file, an image list or a label folder.

Images are mapped to labels with Darknet's own rule (`label_path_for`), so the boxes clustered are
exactly the ones `darknet detector train` would read. An image without a label file is counted,
not fatal (Darknet also trains on it, as background); zero-size boxes are dropped and counted,
since they have no shape to cluster and would make IoU undefined.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from darkpy.datafile import read_data_file, read_list
from darkpy.errors import DataError, UsageError
from darkpy.labels import label_path_for, read_labels


@dataclass
class BoxSet:
    """Normalised box shapes (w, h > 0) and what was skipped on the way."""

    wh: np.ndarray          # (n, 2) float32
    source: str             # where they came from, for messages
    files: int = 0          # label files read
    missing: int = 0        # listed images without a label file
    zero_size: int = 0      # boxes with w == 0 or h == 0, ignored

    def __len__(self) -> int:
        return len(self.wh)


def load_boxes(
    *,
    data: str | Path | None = None,
    image_list: str | Path | None = None,
    labels: str | Path | None = None,
    progress: bool = False,
) -> BoxSet:
    """Boxes from exactly one of: a .data file (its `train=` list), an image list, a label folder."""
    given = [x for x in (data, image_list, labels) if x is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --data, --list or --labels")
    if data is not None:
        df = read_data_file(data)
        train = df.resolve("train")
        if train is None:
            raise DataError("no 'train=' entry naming the training image list", file=df.path)
        return _from_list(Path(train), progress)
    if image_list is not None:
        return _from_list(Path(image_list), progress)
    return _from_folder(Path(labels), progress)


def _from_list(path: Path, progress: bool) -> BoxSet:
    images = read_list(path)
    if not images:
        raise DataError("image list is empty", file=path)
    files: list[Path] = []
    missing = 0
    for image in images:
        label = label_path_for(image)
        if not label.exists() and not Path(image).is_absolute():
            beside = label_path_for(path.parent / image)  # a list written relative to itself
            label = beside if beside.exists() else label
        if label.exists():
            files.append(label)
        else:
            missing += 1
    if not files:
        raise DataError(
            f"no label files found for the {len(images)} images listed; looked for "
            f"{label_path_for(images[0])} (Darknet's images/JPEGImages -> labels, .jpg -> .txt rule) "
            "and the same beside the list",
            file=path,
        )
    boxes = _read_all(files, progress, f"{path}")
    boxes.missing = missing
    return boxes


def _from_folder(folder: Path, progress: bool) -> BoxSet:
    if not folder.is_dir():
        raise DataError("no such label folder", file=folder)
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise DataError("no label .txt files found in this folder or below it", file=folder)
    return _read_all(files, progress, str(folder))


def _read_all(files: Sequence[Path], progress: bool, source: str) -> BoxSet:
    from tqdm import tqdm

    parts = []
    for f in tqdm(files, desc="reading labels", unit="file", disable=not progress or None, leave=False):
        rows = read_labels(f)
        if len(rows):
            parts.append(rows[:, 3:5])
    wh = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 2), np.float32)
    ok = (wh[:, 0] > 0) & (wh[:, 1] > 0)
    result = BoxSet(np.ascontiguousarray(wh[ok]), source, files=len(files), zero_size=int((~ok).sum()))
    if len(result) == 0:
        extra = f" ({result.zero_size} had zero width or height)" if result.zero_size else ""
        raise DataError(f"the {len(files)} label files hold no usable boxes{extra}", file=source)
    return result
