"""Collecting the (w, h) of every training box, from a .data file, an image list or a label folder.

Images are mapped to labels with Darknet's own rule (`label_path_for`), so the boxes clustered are
exactly the ones `darknet detector train` would read. An image without a label file is counted,
not fatal (Darknet also trains on it, as background); zero-size boxes are dropped and counted,
since they have no shape to cluster and would make IoU undefined.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from darkpy.formats.datafile import read_data_file, read_list
from darkpy.errors import DataError, UsageError
from darkpy.formats.labels import label_path_for, parse_labels


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
    parts: list[np.ndarray] = []
    files = missing = 0
    for image in _progress(images, progress, "reading labels", "image"):
        rows = _read_label(str(label_path_for(image)))
        if rows is None and not os.path.isabs(image):  # a list written relative to itself
            rows = _read_label(str(label_path_for(path.parent / image)))
        if rows is None:
            missing += 1
            continue
        files += 1
        parts.append(rows)
    if files == 0:
        raise DataError(
            f"no label files found for the {len(images)} images listed; looked for "
            f"{label_path_for(images[0])} (Darknet's images/JPEGImages -> labels, .jpg -> .txt rule) "
            "and the same beside the list",
            file=path,
        )
    boxes = _collect(parts, files, str(path))
    boxes.missing = missing
    return boxes


def _from_folder(folder: Path, progress: bool) -> BoxSet:
    if not folder.is_dir():
        raise DataError("no such label folder", file=folder)
    files = sorted(str(p) for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise DataError("no label .txt files found in this folder or below it", file=folder)
    parts = []
    for f in _progress(files, progress, "reading labels", "file"):
        rows = _read_label(f)
        if rows is None:
            raise DataError("cannot read label file", file=f)
        parts.append(rows)
    return _collect(parts, len(files), str(folder))


def _read_label(path: str) -> np.ndarray | None:
    """The (n, 2) w, h of one label file, or None if it does not exist. Plain strings and one
    open() per file: with a hundred thousand label files, pathlib and stat calls add up."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise DataError(f"cannot read label file: {exc.strerror}", file=path) from None
    return parse_labels(text, path)[:, 3:5]


def _progress(items, enabled: bool, desc: str, unit: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not enabled or None, leave=False)


def _collect(parts: list[np.ndarray], files: int, source: str) -> BoxSet:
    wh = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 2), np.float32)
    ok = (wh[:, 0] > 0) & (wh[:, 1] > 0)
    result = BoxSet(np.ascontiguousarray(wh[ok]), source, files=files, zero_size=int((~ok).sum()))
    if len(result) == 0:
        extra = f" ({result.zero_size} had zero width or height)" if result.zero_size else ""
        raise DataError(f"the {files} label files hold no usable boxes{extra}", file=source)
    return result
