"""Which class an image belongs to, decided as Darknet decides it.

Darknet's classifier finds an image's class by looking for every entry of the `labels=` list
inside the image's *path* (`fill_truth` in src/data.c: a plain substring test). Exactly one entry
must match; Darknet prints a warning and trains on a wrong truth vector otherwise, darkpy
reports the offending paths instead of guessing.

The same rule serves an ImageNet-style folder tree (`root/<class>/<image>`): the class folder
name is part of every path below it. When `train=` (or `valid=`) names a folder instead of a
list file, darkpy lists the images under it, and the labels default to the folder names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from darkpy.formats.datafile import DataFile, read_data_file, read_list, read_names
from darkpy.errors import DataError
from darkpy.formats.labels import IMAGE_EXTENSIONS

MAX_SHOWN = 5


class LabelMatcher:
    """All labels that occur in a path, fast enough for ImageNet-sized lists.

    Labels are bucketed by their first `m` characters (`m`: the shortest label's length); at every
    position of a path one dictionary lookup gives the few labels that can start there, and each
    is checked with `startswith`. That finds every occurrence of every label, as Darknet's
    `strstr` loop does, in time proportional to the path length rather than the label count.
    """

    def __init__(self, labels: list[str]):
        if not labels:
            raise DataError("the label list is empty")
        if any(not name for name in labels):
            raise DataError("the label list has an empty entry (it would match every path)")
        self.labels = list(labels)
        self.index: dict[str, list[int]] = {}
        for i, name in enumerate(self.labels):
            self.index.setdefault(name, []).append(i)
        self.m = min(len(name) for name in self.index)
        self.buckets: dict[str, list[str]] = {}
        for name in self.index:
            self.buckets.setdefault(name[: self.m], []).append(name)

    def matches(self, path: str) -> list[int]:
        """Indexes of every label entry found in `path`, ascending (duplicates included)."""
        m, buckets = self.m, self.buckets
        found: set[str] = set()
        for i in range(len(path) - m + 1):
            bucket = buckets.get(path[i:i + m])
            if bucket is not None:
                for name in bucket:
                    if name not in found and path.startswith(name, i):
                        found.add(name)
        if not found:
            return []
        return sorted(i for name in found for i in self.index[name])


@dataclass
class LabelledList:
    """Image paths with one class index each (and the label strings they were matched with)."""

    paths: list[str]
    classes: np.ndarray          # (n,) int64
    labels: list[str]
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.paths)


def _bad_paths_error(bad: list[tuple[str, list[int]]], labels: list[str], source) -> DataError:
    none = [p for p, m in bad if not m]
    many = [(p, m) for p, m in bad if m]
    parts = []
    if none:
        shown = ", ".join(repr(p) for p in none[:MAX_SHOWN])
        more = f" and {len(none) - MAX_SHOWN} more" if len(none) > MAX_SHOWN else ""
        parts.append(f"{len(none)} image path(s) contain no label: {shown}{more}")
    if many:
        shown = "; ".join(f"{p!r} matches {', '.join(repr(labels[i]) for i in m)}"
                          for p, m in many[:MAX_SHOWN])
        more = f" and {len(many) - MAX_SHOWN} more" if len(many) > MAX_SHOWN else ""
        parts.append(f"{len(many)} image path(s) contain more than one label: {shown}{more}")
    return DataError("; ".join(parts) + " (Darknet needs exactly one label string inside each path)",
                     file=source)


def assign_labels(paths: list[str], labels: list[str], source: str | Path | None = None) -> LabelledList:
    """Darknet's `fill_truth` rule for every path; DataError listing paths with 0 or 2+ matches."""
    matcher = LabelMatcher(labels)
    classes = np.empty(len(paths), dtype=np.int64)
    bad: list[tuple[str, list[int]]] = []
    for i, path in enumerate(paths):
        m = matcher.matches(path)
        if len(m) == 1:
            classes[i] = m[0]
        else:
            bad.append((path, m))
            classes[i] = -1
    if bad:
        raise _bad_paths_error(bad, labels, source)
    return LabelledList(list(paths), classes, list(labels), Path(source) if source is not None else None)


def resolve_beside(paths: list[str], folder: Path) -> list[str]:
    """Relative image paths are read from the working directory, as Darknet reads them; one that
    is not there but is beside the list file is taken from there. (Labels are matched on the
    paths as written.)"""
    if not paths or Path(paths[0]).is_absolute():
        return paths
    out = []
    for p in paths:
        q = Path(p)
        out.append(p if q.is_absolute() or q.exists() or not (folder / q).exists() else str(folder / q))
    return out


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def list_folder_tree(root: str | Path) -> tuple[list[str], list[str]]:
    """(image paths, class folder names) of an ImageNet-style tree `root/<class>/**/<image>`."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError("folder has no class sub-folders (expected root/<class>/<image>)", file=root)
    paths = []
    for name in classes:
        paths += sorted(str(p) for p in (root / name).rglob("*") if p.is_file() and is_image(p))
    if not paths:
        raise DataError("no images under the class folders", file=root)
    return paths, classes


def folder_labelled(root: str | Path, labels: list[str] | None = None) -> LabelledList:
    """A folder tree: each image's class is its top-level folder below `root` (looked up in
    `labels` when given, which fixes the class order; sorted folder names otherwise)."""
    root = Path(root)
    paths, folders = list_folder_tree(root)
    labels = list(labels) if labels is not None else folders
    where = {name: i for i, name in enumerate(labels)}
    unknown = [f for f in folders if f not in where]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:MAX_SHOWN])
        raise DataError(f"class folder(s) {shown} are not in the label list", file=root)
    classes = np.asarray([where[Path(p).relative_to(root).parts[0]] for p in paths], dtype=np.int64)
    return LabelledList(paths, classes, labels, root)


@dataclass
class ClassifierData:
    """What a classification `.data` file says (Darknet's defaults where a key is missing)."""

    data: DataFile
    classes: int
    labels: list[str]
    names: list[str]
    top: int
    backup: Path

    def split(self, key: str) -> LabelledList:
        """The labelled images of `train` or `valid` (a list file or a folder tree)."""
        value = self.data.get(key)
        if value is None:
            raise DataError(f"no '{key}=' entry", file=self.data.path)
        path = self.data.resolve(key)
        if path.is_dir():
            out = folder_labelled(path, self.labels or None)
        else:
            if not path.exists():
                raise DataError(f"'{key}' list not found: {value}", file=self.data.path,
                                line=self.data.lines.get(key))
            paths = read_list(path)
            if not paths:
                raise DataError("image list is empty", file=path)
            out = assign_labels(paths, self.labels, path)
            out.paths = resolve_beside(out.paths, path.parent)
        if len(out.labels) != self.classes:
            raise DataError(f"classes={self.classes} but {len(out.labels)} labels", file=self.data.path,
                            line=self.data.lines.get("classes"))
        return out


def read_classifier_data(path: str | Path, *, need_labels: bool = True) -> ClassifierData:
    """Read a classification `.data` file: `classes`, `labels`, `names`, `top`, `backup`, lists.

    `labels=` may be left out when `train=`/`valid=` is a folder tree (the folder names, sorted,
    become the labels). `names=` (display names) defaults to the labels, as in Darknet."""
    data = read_data_file(path)
    labels: list[str] = []
    if data.get("labels") is not None:
        lpath = data.resolve("labels")
        labels = read_names(lpath)
    else:
        for key in ("train", "valid"):
            p = data.resolve(key)
            if p is not None and p.is_dir():
                labels = list_folder_tree(p)[1]
                break
        if not labels and need_labels:
            raise DataError("no 'labels=' entry (a list of label strings, one of which occurs in every "
                            "image path), and no folder tree to take class names from", file=data.path)
    classes = data.int("classes")
    if classes is None:
        classes = len(labels) if labels else 2  # Darknet's default is 2
    if classes < 1:
        raise DataError(f"classes must be at least 1, got {classes}", file=data.path,
                        line=data.lines.get("classes"))
    if labels and len(labels) < classes:
        raise DataError(f"classes={classes} but the label list has {len(labels)} entries", file=data.path,
                        line=data.lines.get("classes"))
    # Darknet compares only the first `classes` labels (cfg/imagenet1k.data: 1000 of the 21842)
    labels = labels[:classes]
    names = read_names(data.resolve("names")) if data.get("names") is not None else list(labels)
    if names and len(names) < classes:
        raise DataError(f"names file has {len(names)} entries, fewer than classes={classes}", file=data.path,
                        line=data.lines.get("names"))
    top = data.int("top", 1)
    if top < 1:
        raise DataError(f"top must be at least 1, got {top}", file=data.path, line=data.lines.get("top"))
    if top > classes:
        raise DataError(f"top={top} is larger than classes={classes}", file=data.path,
                        line=data.lines.get("top"))
    backup = data.resolve("backup", "backup/")
    return ClassifierData(data, classes, labels, names, top, backup)
