"""Darknet's label files: `class x y w h` per line, coordinates normalised to the image.

This is the one place label files are found and read: training, joint training, evaluation
ground truth, `kmeans`, `data check` and `data stats` all go through `label_file` (where) and
`parse_label_text` / `read_label_file` (what), so they cannot disagree about a file.

Where: Darknet derives the label path from the image path (`label_path_for`): the first `images`
(then `JPEGImages`, then `raw`) becomes `labels`, and the image extension becomes `.txt`.
`label_file` applies that rule to a list entry: to the image as the list names it, or, for a
relative entry that is not there, to the image beside the list.

What (one set of decisions):

- blank lines are skipped; a file with no lines is an image with no objects;
- a line that is not five numbers, a class that is not an integer in `0..classes-1`, or a
  coordinate outside [0, 1] is a `LabelProblem` naming `file:line`; strict readers
  (`read_labels`, evaluation, `kmeans`) raise it as a one-line `DataError`, training skips the
  line and reports it, `data check` lists them all;
- a classification-only line (YOLO9000) has no box, only a class. Darknet writes it as
  `class 0 0 w h` (its `correct_boxes` turns x = y = 0 into the 999999 marker its region layer
  looks for); darkpy also accepts x, y >= 100000 (the marker itself). Both forms are
  recognised here and returned apart from the boxes.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darkpy.assets import bundled
from darkpy.errors import DataError
from darkpy.fileio import open_regular
from darkpy.formats.numbers import c_float

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

MARK = 1_000_000.0       # x and y of a classification-only truth row (Darknet writes 999999)
MARK_MIN = 100_000.0     # x and y at least this: classification-only (Darknet tests > 100000)


def label_path_for(image: str | Path) -> Path:
    """Darknet's rule: image path -> label path (no file system access)."""
    text = str(image)
    for part in ("images", "JPEGImages", "raw"):
        text = text.replace(part, "labels", 1)
    root, dot, ext = text.rpartition(".")
    if dot and ("." + ext.lower()) in IMAGE_EXTENSIONS and "/" not in ext:
        text = root + ".txt"
    return Path(text)


def resolve_entry(entry: str | Path, list_dir: str | Path | None = None) -> Path:
    """A list entry's image: as written (Darknet reads it relative to the working directory) if
    it exists, else beside the list if it exists there, else the bundled file of that name (the
    demo list's `data/demo/images/...` from an installed darkpy), else as written."""
    p = Path(entry)
    if list_dir is None or p.is_absolute() or os.path.exists(p):
        return p
    beside = Path(list_dir) / p
    return beside if os.path.exists(beside) else (bundled(p) or p)


def label_file(entry: str | Path, list_dir: str | Path | None = None) -> Path:
    """THE list entry -> label path resolver, used by every reader. Candidates, first existing wins:

    1. Darknet's rule on the entry as written;
    2. for a relative entry, the rule on the entry beside the list;
    3. `labels/<name>.txt` beside the list (a VOC-style list of image ids: `000001`).

    Returns the first candidate when none exists (the caller decides what a missing file means)."""
    first = label_path_for(entry)
    if list_dir is None or os.path.isfile(first):
        return first
    candidates = [] if Path(entry).is_absolute() else [label_path_for(Path(list_dir) / entry)]
    shipped = bundled(entry)
    if shipped is not None:  # an entry of a bundled list, read from another folder
        candidates.append(label_path_for(shipped))
    stem = Path(entry).name
    if Path(stem).suffix.lower() in IMAGE_EXTENSIONS:
        stem = Path(stem).stem
    candidates.append(Path(list_dir) / "labels" / (stem + ".txt"))
    for c in candidates:
        if os.path.isfile(c):
            return c
    return first


def is_class_only(x, y):
    """Darknet's classification-only forms: x = y = 0 (as written) or x, y >= 100000 (marker)."""
    x, y = np.asarray(x), np.asarray(y)
    return ((x == 0) & (y == 0)) | ((x >= MARK_MIN) & (y >= MARK_MIN))


@dataclass
class LabelProblem:
    """One unusable line: `kind` is a `data check` key (bad-label, class-range, bad-coordinates)."""

    file: str
    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.detail}"

    def error(self) -> DataError:
        return DataError(self.detail, file=self.file, line=self.line)


@dataclass
class Labels:
    """A parsed label file."""

    boxes: np.ndarray                        # (n, 5) float32 class x y w h
    class_only: np.ndarray                   # (m, 3) float32 class w h of classification-only lines
    problems: list[LabelProblem] = field(default_factory=list)
    box_lines: np.ndarray | None = None      # (n,) line number of each box

    def raise_first(self) -> "Labels":
        if self.problems:
            raise self.problems[0].error()
        return self

    def rows(self) -> np.ndarray:
        """Boxes and classification-only lines as one (n, 5) class x y w h array, the latter with
        x = y = MARK (what `darkpy.train.augment.correct_label_boxes` keeps as Darknet's marker)."""
        if not len(self.class_only):
            return self.boxes
        marks = np.zeros((len(self.class_only), 5), np.float32)
        marks[:, 0] = self.class_only[:, 0]
        marks[:, 1:3] = MARK
        marks[:, 3:5] = self.class_only[:, 1:3]
        return np.concatenate([self.boxes, marks])


C_SPACE = " \t\r\v\f"     # what fscanf skips between numbers (ASCII only: not U+00A0, not U+2028)
_C_SPACES = re.compile(f"[{C_SPACE}]+")


def parse_label_text(text: str, path: str | Path = "<labels>", classes: int | None = None,
                     class_only_classes: int | None = None) -> Labels:
    """Every line of a label file, sorted into boxes, classification-only lines and problems.

    `classes` bounds box classes, `class_only_classes` (default `classes`) those of
    classification-only lines (in joint training those are tree indexes, boxes may be mapped ids).
    """
    path = str(path)
    if class_only_classes is None:
        class_only_classes = classes
    boxes, box_lines, marks, problems = [], [], [], []
    for number, raw in enumerate(text.split("\n"), 1):
        fields = _C_SPACES.split(raw.strip(C_SPACE))
        if fields == [""]:
            continue
        if len(fields) != 5:
            problems.append(LabelProblem(path, number, "bad-label",
                                         f"expected 5 fields 'class x y w h', got {len(fields)}"))
            continue
        try:
            values = [c_float(v) for v in fields]
        except ValueError:
            problems.append(LabelProblem(path, number, "bad-label", f"not a number in {raw.strip()!r}"))
            continue
        cls, x, y, w, h = values
        only = bool(is_class_only(x, y))
        limit = class_only_classes if only else classes
        if not math.isfinite(cls) or cls != int(cls) or cls < 0 or (limit is not None and cls >= limit):
            what = "class" if not only else "class of a classification-only line"
            bound = f" (classes={limit})" if limit is not None else ""
            problems.append(LabelProblem(path, number, "class-range", f"{what} {fields[0]} out of range{bound}"))
            continue
        if only:
            if not all(math.isfinite(v) for v in (w, h)):
                problems.append(LabelProblem(path, number, "bad-coordinates", "size is not finite"))
                continue
            marks.append((cls, w, h))
            continue
        if not all(0.0 <= v <= 1.0 for v in (x, y, w, h)):   # NaN fails too
            problems.append(LabelProblem(path, number, "bad-coordinates",
                                         f"coordinates outside [0,1]: {raw.strip()!r}"))
            continue
        boxes.append(values)
        box_lines.append(number)
    return Labels(np.asarray(boxes, np.float32).reshape(-1, 5), np.asarray(marks, np.float32).reshape(-1, 3),
                  problems, np.asarray(box_lines, np.int64))


def read_label_file(path: str | Path, classes: int | None = None, *, class_only_classes: int | None = None,
                    missing_ok: bool = False) -> Labels | None:
    """A label file parsed (problems collected, not raised). A missing file is None with
    `missing_ok`, else a DataError; any other read error is a DataError."""
    try:
        with open_regular(path, "label file", DataError, "r", os_errors=True, encoding="utf-8",
                          errors="replace", newline="") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return None
        raise DataError("label file not found", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read label file: {exc.strerror}", file=path) from None
    return parse_label_text(text, path, classes, class_only_classes)


def parse_labels(text: str, path: str | Path = "<labels>", classes: int | None = None) -> np.ndarray:
    """Strict: the (n, 5) boxes of label text; the first bad line is a DataError with its line.
    Classification-only lines are left out (they have no box)."""
    return parse_label_text(text, path, classes).raise_first().boxes


def read_labels(path: str | Path, classes: int | None = None) -> np.ndarray:
    """Strict `parse_labels` of a file (missing: DataError)."""
    return read_label_file(path, classes).raise_first().boxes
