"""`darkpy data check`: find every entry of an image list that Darknet would choke on.

Darknet does not validate its inputs: a missing label file is a warning lost in the training log,
a class id past `classes` corrupts memory, a malformed line silently reads as zeros. This pass
reads every image header and every label file up front and reports all problems at once, so a
training run does not die (or quietly learn garbage) hours in.

Errors make an entry unusable; warnings (an empty label file) are legitimate for Darknet
(a picture with nothing in it) but worth knowing about.
"""
from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from darkpy.formats.datafile import read_data_file, read_lines, read_names, read_list
from darkpy.errors import DataError
from darkpy.fileio import not_a_file, write_text_atomic
from darkpy.formats.alexeyab import label_text as alexeyab_label_text
from darkpy.formats.labelcache import LabelCache
from darkpy.formats.labels import Labels, parse_label_text, resolve_entry
from darkpy.formats.labelset import LabelSet, path_str, read_list_labels
from darkpy.formats.imagesize import ImageUnreadable, image_size

ERRORS = {
    "missing-image": "image file not found",
    "unreadable-image": "image cannot be read",
    "missing-label": "label file not found",
    "bad-label": "label line is not 'class x y w h'",
    "class-range": "class id out of range",
    "bad-coordinates": "coordinate outside [0, 1]",
    "zero-size": "box with zero width or height",
    "duplicate": "entry repeated in the list",
}
WARNINGS = {"empty-label": "label file has no boxes",
            "one-darknet": "labels where only one of pjreddie's and AlexeyAB's Darknet looks"}
_POSIX = os.name == "posix"   # where Path(entry).is_absolute() is entry.startswith("/")


@dataclass
class Problem:
    list_file: Path
    line: int           # line of the entry in the list file
    image: str
    kind: str           # a key of ERRORS or WARNINGS
    detail: str
    file: str = ""      # the file at fault (image or label)

    @property
    def is_error(self) -> bool:
        return self.kind in ERRORS

    def __str__(self) -> str:
        return f"{self.file or self.image}: {self.detail}"


@dataclass
class ListCheck:
    path: Path
    role: str                     # "train", "valid" or "list"
    entries: list[str]
    lines: list[int]
    good: np.ndarray              # (entries,) bool: usable by Darknet
    problems: list[Problem]
    boxes: np.ndarray             # (n, 5) float: class x y w h of every good box
    class_only: int = 0           # classification-only label lines (YOLO9000) of good entries

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


@dataclass
class CheckReport:
    target: Path
    classes: int | None
    names: list[str]
    lists: list[ListCheck] = field(default_factory=list)
    data_file: Path | None = None

    @property
    def problems(self) -> list[Problem]:
        return [p for lc in self.lists for p in lc.problems]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> Counter:
        return Counter(p.kind for p in self.problems)


def check_labels(text: str, classes: int | None, path: str = "<labels>"
                 ) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """Read label text with the one label reader (`darkpy.formats.labels`); returns the good
    boxes, (line, kind, detail) for each bad line, and the number of classification-only lines.
    A box of zero width or height parses but is an error here: Darknet drops it silently."""
    return label_findings(parse_label_text(text, path, classes))


def label_findings(labels: Labels) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """`check_labels` on an already parsed file (from `read_list_labels`)."""
    bad = [(p.line, p.kind, f"line {p.line}: {p.detail}") for p in labels.problems]
    boxes = labels.boxes
    zero = (boxes[:, 3] == 0) | (boxes[:, 4] == 0)
    if zero.any():
        for line, (w, h) in zip(labels.box_lines[zero], boxes[zero, 3:5]):
            bad.append((int(line), "zero-size", f"line {line}: box of size {w:g} x {h:g}"))
        bad.sort(key=lambda b: b[0])
        boxes = boxes[~zero]
    return boxes, bad, len(labels.class_only)


def _file_findings(labels: LabelSet) -> tuple[np.ndarray, np.ndarray]:
    """(zero, plain) over the whole set at once: `zero[r]` for a box row of zero width or height,
    `plain[j]` for file j readable with no problem line and no zero-size box (its findings are
    nothing, its boxes all of its rows), so only the other files go through `label_findings`."""
    zero = (labels.boxes[:, 3] == 0) | (labels.boxes[:, 4] == 0)
    counts = labels.box_counts()
    files_with_zero = np.repeat(np.arange(len(labels)), counts)[zero]
    plain = np.ones(len(labels), bool)
    plain[files_with_zero] = False
    plain[list(labels.problems)] = False
    plain[list(labels.errors)] = False
    return zero, plain


def _resolved(image: str, base: Path) -> str:
    """`str(resolve_entry(image, base))`, without Path objects for the usual entry (an absolute
    path, or a relative one that exists as written)."""
    if _POSIX and (image.startswith("/") or os.path.exists(image)):
        return path_str(image)
    return str(resolve_entry(image, base))


def _check_entry(image: str, base: Path, decode: bool, labels: LabelSet, j: int, plain: bool):
    """Problems (kind, detail, file) of one list entry (its label file already read, as
    `labels`' j-th; `plain`: that file has no problem line and no zero-size box); runs in a
    worker thread."""
    problems = []
    path = _resolved(image, base)
    try:
        image_size(path, decode)
    except FileNotFoundError:
        problems.append(("missing-image", "image file not found", path))
    except (OSError, ImageUnreadable) as exc:
        why = getattr(exc, "strerror", None) or exc
        problems.append(("unreadable-image", f"cannot read image: {why}", path))
    label = labels.paths[j]
    other = path_str(alexeyab_label_text(path))
    if j in labels.errors:
        try:
            labels.labels(j)  # raises the file's read error
        except DataError as exc:  # a FIFO, a device, a folder, unreadable
            problems.append(("missing-label", exc.message, label))
            return problems
    if not labels.found[j]:
        also = f" (only AlexeyAB's Darknet finds {other})" if os.path.isfile(other) else ""
        problems.append(("missing-label", f"label file not found{also}", label))
        return problems
    if other != label and (_POSIX or Path(other) != Path(label)) and not os.path.isfile(other):
        problems.append(("one-darknet", f"AlexeyAB's Darknet looks for {other} (not found): it would train on "
                         "no objects here; a copy there serves both", label))
    if plain:
        bad = []
        empty = labels.box_offsets[j] == labels.box_offsets[j + 1] and \
            labels.class_only_offsets[j] == labels.class_only_offsets[j + 1]
    else:
        boxes, bad, class_only = label_findings(labels.labels(j))
        empty = not bad and len(boxes) == 0 and not class_only
    for _, kind, detail in bad:
        problems.append((kind, detail, label))
    if empty:
        problems.append(("empty-label", "label file has no boxes", label))
    return problems


def check_list(path: Path, role: str = "list", classes: int | None = None, *, decode: bool = False,
               workers: int = 8, progress: Callable[[int], None] | None = None,
               cache: LabelCache | None = None) -> ListCheck:
    """Check one image list. With a `cache`, label files unchanged since an earlier read (same
    size and mtime) are taken from it; the report is the same."""
    path = Path(path)
    entries, lines = [], []
    raw_lines = read_lines(path, f"{role} list")  # lines as Darknet's fgetl reads them
    for number, raw in enumerate(raw_lines, 1):
        if raw.strip():
            entries.append(raw.strip())
            lines.append(number)
    if not entries:
        raise DataError(f"{role} list has no entries (Darknet needs at least one image)", file=path)
    good = np.ones(len(entries), bool)
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry in first:
            good[i] = False
            problems.append(Problem(path, lines[i], entry, "duplicate",
                                    f"repeats line {lines[first[entry]]} of {path.name}", entry))
        else:
            first[entry] = i
    unique = [i for i in range(len(entries)) if good[i]]
    base = path.parent.resolve()
    # every label file in one pass (threads, numpy, the label cache), then images in the pool
    labels = read_list_labels([entries[i] for i in unique], base, classes, threads=max(1, workers),
                              cache=cache)
    zero, plain = _file_findings(labels)

    def run(chunk: range) -> list:
        return [_check_entry(entries[unique[j]], base, decode, labels, j, bool(plain[j])) for j in chunk]

    # a few entries per task: one future per entry costs more than the entry's own work
    step = max(1, min(256, -(-len(unique) // (4 * max(1, workers)))))
    chunks = [range(k, min(k + step, len(unique))) for k in range(0, len(unique), step)]
    usable = np.zeros(len(unique), bool)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for chunk, results in zip(chunks, pool.map(run, chunks)):
            for j, found in zip(chunk, results):
                i = unique[j]
                for kind, detail, file in found:
                    problems.append(Problem(path, lines[i], entries[i], kind, detail, file))
                    if kind in ERRORS:
                        good[i] = False
                usable[j] = good[i]
            if progress is not None:
                progress(len(chunk))
    problems.sort(key=lambda p: p.line)
    # the rows of usable entries, in list order, less zero-size boxes (what label_findings keeps)
    boxes = labels.boxes[np.repeat(usable, labels.box_counts()) & ~zero]
    class_only = int(labels.class_only_counts()[usable].sum())
    return ListCheck(path, role, entries, lines, good, problems, boxes, class_only)


def lists_of(target: str | Path) -> tuple[list[tuple[str, Path]], int | None, list[str], Path | None]:
    """The lists to check for a `.data` file (train, valid) or a plain image list."""
    target = Path(target)
    why = not_a_file(target)
    if why is not None:
        raise DataError(why if why != "not found" else "file not found", file=target)
    if target.suffix == ".data":
        data = read_data_file(target)
        classes = data.classes
        names: list[str] = []
        names_path = data.resolve("names")
        if names_path is not None and names_path.is_file():
            names = read_names(names_path)
        lists = []
        for key in ("train", "valid"):
            p = data.resolve(key)
            if p is None:
                continue
            why = not_a_file(p)
            if why is not None:
                raise DataError(f"{key} list {p}: {why}", file=target, line=data.lines.get(key))
            if (key, p) not in lists and all(p != q for _, q in lists):
                lists.append((key, p))
        if not lists:
            raise DataError("no 'train=' or 'valid=' entry", file=target)
        return lists, classes, names, target
    return [("list", target)], None, [], None


def check(target: str | Path, *, classes: int | None = None, decode: bool = False, workers: int = 8,
          progress: Callable[[int], None] | None = None,
          total: Callable[[int], None] | None = None, cache: LabelCache | None = None) -> CheckReport:
    """Check a `.data` file's train and valid lists, or one image list.

    `classes` bounds the class ids (taken from the `.data` file when there is one). With a
    `cache` (`LabelCache()`: the user's label cache), unchanged label files are not read again.
    """
    lists, data_classes, names, data_file = lists_of(target)
    classes = classes if classes is not None else data_classes
    report = CheckReport(Path(target), classes, names, data_file=data_file)
    if total is not None:
        total(sum(len(read_list(p)) for _, p in lists))
    for role, path in lists:
        report.lists.append(
            check_list(path, role, classes, decode=decode, workers=workers, progress=progress,
                       cache=cache))
    return report


def fixed_path(path: Path) -> Path:
    """`train.txt` -> `train.fixed.txt`, beside the original."""
    return path.with_name(f"{path.stem}.fixed{path.suffix}")


def write_fixed(report: CheckReport) -> list[Path]:
    """Write cleaned copies of the lists (usable entries only, first of each duplicate) beside the
    originals, plus a `.fixed.data` pointing at them; the user's own files are left as they are."""
    written = []
    for lc in report.lists:
        out = fixed_path(lc.path)
        kept = [e for e, ok in zip(lc.entries, lc.good) if ok]
        written.append(write_text_atomic(out, "".join(e + "\n" for e in kept)))
    if report.data_file is not None:
        data = read_data_file(report.data_file)
        text = read_lines(report.data_file, ".data file")  # numbered as read_data_file numbers them
        for lc in report.lists:
            for key in ("train", "valid"):
                line = data.lines.get(key)
                if line is not None and data.resolve(key) == lc.path:
                    text[line - 1] = f"{key} = {fixed_path(lc.path)}"
        written.append(write_text_atomic(fixed_path(report.data_file), "\n".join(text) + "\n"))
    return written


def size_histogram(boxes: np.ndarray) -> list[tuple[str, int]]:
    """Box counts by size (square root of the normalised area), in bins a person can read."""
    edges = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0 + 1e-9]
    size = np.sqrt(boxes[:, 3] * boxes[:, 4]) if len(boxes) else np.zeros(0)
    counts, _ = np.histogram(size, bins=edges)
    labels = [f"{lo:g}-{hi:.2g}" for lo, hi in zip(edges[:-1], edges[1:])]
    labels[-1] = f"{edges[-2]:g}-1"
    return list(zip(labels, counts.tolist()))
