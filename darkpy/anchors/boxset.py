"""Collecting the (w, h) of every training box, from a .data file, an image list or a label folder.

Images are mapped to labels with Darknet's own rule (`darkpy.formats.labels.label_file`, the
resolver training uses), so the boxes clustered are exactly the ones `darknet detector train`
would read. An image without a label file is counted, not fatal (Darknet also trains on it, as
background); zero-size boxes and classification-only lines (YOLO9000's `class 0 0 w h`, which
have no shape) are left out and counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import numpy as np

from darkpy.formats.datafile import read_data_file, read_list
from darkpy.errors import DataError, UsageError
from darkpy.formats.labelcache import LabelCache
from darkpy.formats.labels import label_path_for
from darkpy.formats.labelset import read_label_set, read_list_labels


@dataclass
class BoxSet:
    """Normalised box shapes (w, h > 0) and what was skipped on the way."""

    wh: np.ndarray          # (n, 2) float32
    source: str             # where they came from, for messages
    files: int = 0          # label files read
    missing: int = 0        # listed images without a label file
    zero_size: int = 0      # boxes with w == 0 or h == 0, ignored
    class_only: int = 0     # classification-only lines (no box), ignored

    def __len__(self) -> int:
        return len(self.wh)


def load_boxes(
    *,
    data: str | Path | None = None,
    image_list: str | Path | None = None,
    labels: str | Path | None = None,
    progress: bool = False,
    cache: LabelCache | None = None,
) -> BoxSet:
    """Boxes from exactly one of: a .data file (its `train=` list), an image list, a label folder.
    With a `cache`, label files unchanged since an earlier read are taken from it (same boxes)."""
    given = [x for x in (data, image_list, labels) if x is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --data, --list or --labels")
    if data is not None:
        df = read_data_file(data)
        train = df.resolve("train")
        if train is None:
            raise DataError("no 'train=' entry naming the training image list", file=df.path)
        return _from_list(Path(train), progress, cache)
    if image_list is not None:
        return _from_list(Path(image_list), progress, cache)
    return _from_folder(Path(labels), progress, cache)


def _from_list(path: Path, progress: bool, cache: LabelCache | None = None) -> BoxSet:
    images = read_list(path)
    if not images:
        raise DataError("image list is empty", file=path)
    labels = read_list_labels(images, path.parent, cache=cache).raise_first()
    files = int(labels.found.sum())
    if files == 0:
        raise DataError(
            f"no label files found for the {len(images)} images listed; looked for "
            f"{label_path_for(images[0])} (Darknet's images/JPEGImages -> labels, .jpg -> .txt rule) "
            "and the same beside the list",
            file=path,
        )
    boxes = _collect([labels.boxes[:, 3:5]], files, str(path), len(labels.class_only))
    boxes.missing = len(images) - files
    return boxes


def _from_folder(folder: Path, progress: bool, cache: LabelCache | None = None) -> BoxSet:
    if not folder.is_dir():
        raise DataError("no such label folder", file=folder)
    files = sorted(str(p) for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise DataError("no label .txt files found in this folder or below it", file=folder)
    labels = read_label_set(files, cache=cache).raise_first()
    if not labels.found.all():
        raise DataError("cannot read label file", file=files[int(np.flatnonzero(~labels.found)[0])])
    return _collect([labels.boxes[:, 3:5]], len(files), str(folder), len(labels.class_only))


def _collect(parts: list[np.ndarray], files: int, source: str, class_only: int = 0) -> BoxSet:
    wh = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 2), np.float32)
    ok = (wh[:, 0] > 0) & (wh[:, 1] > 0)
    result = BoxSet(np.ascontiguousarray(wh[ok]), source, files=files, zero_size=int((~ok).sum()),
                    class_only=class_only)
    if len(result) == 0:
        extra = f" ({result.zero_size} had zero width or height)" if result.zero_size else ""
        raise DataError(f"the {files} label files hold no usable boxes{extra}", file=source)
    return result
