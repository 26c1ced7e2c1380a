"""COCO `instances_*.json` to Darknet labels.

COCO boxes are `[x, y, w, h]` from the top-left corner, in pixels; Darknet wants the centre and
size divided by the image size. Boxes are clipped to the image first (a few COCO boxes stick out
by a fraction of a pixel) and those left with no width or height are skipped and counted. Crowd
regions (`iscrowd=1`) describe many objects at once and are skipped too, as Darknet's COCO labels
do.

Darknet's classes are COCO's categories in file order; COCO's ids have gaps (1..90 for 80
classes), so the id of each class is written to `coco.map`, one per line: line i is the category
id of class i, which is what `map=` in a `.data` file expects when results are written for COCO's
evaluation server.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from darkpy.formats.datafile import read_data_file
from darkpy.errors import DataError, UsageError
from darkpy.fileio import inside, staged_directory
from darkpy.data.layout import check_link, ensure_label_rule, link_images, list_text, warn_one_darknet


@dataclass
class CocoConversion:
    data: Path
    list: Path
    images: int = 0
    boxes: int = 0
    crowd_skipped: int = 0
    degenerate_skipped: int = 0


def _field(entry: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(entry, dict) or key not in entry:
        raise DataError(f"{where}: missing key '{key}'", file=path)
    return entry[key]


def _section(doc: Any, key: str, path: Path) -> list:
    if not isinstance(doc, dict) or key not in doc:
        raise DataError(f"missing top-level key '{key}' (is this a COCO instances file?)", file=path)
    if not isinstance(doc[key], list):
        raise DataError(f"'{key}' must be a list", file=path)
    return doc[key]


def coco_box(width: float, height: float, bbox: list[float]) -> tuple[float, float, float, float] | None:
    """Centre and size, normalised; None when nothing of the box is inside the image."""
    x, y, w, h = (float(v) for v in bbox)
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height


def format_line(cls: int, box: tuple[float, float, float, float]) -> str | None:
    text = [f"{v:.6f}" for v in box]
    if float(text[2]) == 0.0 or float(text[3]) == 0.0:
        return None  # smaller than the printed precision: Darknet would read a zero-size box
    return f"{cls} " + " ".join(text)


def load(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return json.load(fh)
    except OSError as exc:
        raise DataError(f"cannot read annotations: {exc.strerror}", file=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise DataError(f"not valid JSON: {getattr(exc, 'msg', exc)}", file=path, line=line) from None


def convert(annotations: str | Path, images: str | Path, out: str | Path, *, split: str | None = None,
            role: str | None = None, progress: Callable[[int], None] | None = None,
            total: Callable[[int], None] | None = None) -> CocoConversion:
    """Convert one COCO instances file whose images are in `images`.

    Writes `labels/SPLIT/*.txt`, `images/SPLIT` (a link to `images`), `SPLIT.txt`, `coco.names`,
    `coco.map` and `coco.data` under `out`. `split` defaults to the image folder's name; `role`
    (`train` or `valid`, the `.data` key this list fills) defaults to `valid` when the split name
    contains "val", else `train`. An existing `coco.data` keeps its other entries, so converting
    train2017 then val2017 into the same folder gives one complete `.data` file.
    """
    annotations = Path(annotations).expanduser()
    images = Path(images).expanduser().resolve()
    final = Path(out).expanduser().resolve()
    split = split or images.name
    role = role or ("valid" if "val" in split else "train")
    if role not in ("train", "valid"):
        raise UsageError(f"--role must be 'train' or 'valid', got {role!r}")
    if not images.is_dir():
        raise DataError("image folder not found", file=images)

    doc = load(annotations)
    image_entries = _section(doc, "images", annotations)
    ann_entries = _section(doc, "annotations", annotations)
    categories = _section(doc, "categories", annotations)

    class_of: dict[Any, int] = {}
    names = []
    for i, cat in enumerate(categories):
        cid = _field(cat, "id", annotations, f"categories[{i}]")
        names.append(str(_field(cat, "name", annotations, f"categories[{i}] (id {cid})")))
        if cid in class_of:
            raise DataError(f"categories[{i}]: id {cid} appears twice", file=annotations)
        class_of[cid] = i

    info: dict[Any, tuple[str, float, float]] = {}
    for i, img in enumerate(image_entries):
        iid = _field(img, "id", annotations, f"images[{i}]")
        where = f"images[{i}] (id {iid})"
        name = str(_field(img, "file_name", annotations, where))
        # the label file is labels/<split>/<file_name>.txt: it must stay in the output folder
        inside(final / "labels" / split, name, what=f"{where}: file_name", file=annotations, subfolders=True)
        width, height = _field(img, "width", annotations, where), _field(img, "height", annotations, where)
        numbers = isinstance(width, (int, float)) and isinstance(height, (int, float))
        if not numbers or width <= 0 or height <= 0:
            raise DataError(f"{where}: width and height must be positive numbers, got {width!r} x {height!r}",
                            file=annotations)
        if not (images / name).is_file():
            raise DataError(f"{where}: no image file {images / name}", file=annotations)
        info[iid] = (name, float(width), float(height))

    result = CocoConversion(data=final / "coco.data", list=final / f"{split}.txt")
    lines: dict[Any, list[str]] = defaultdict(list)
    for i, ann in enumerate(ann_entries):
        aid = ann.get("id", "?") if isinstance(ann, dict) else "?"
        where = f"annotations[{i}] (id {aid})"
        iid = _field(ann, "image_id", annotations, where)
        if iid not in info:
            raise DataError(f"{where}: image_id {iid} is not in 'images'", file=annotations)
        cid = _field(ann, "category_id", annotations, where)
        if cid not in class_of:
            raise DataError(f"{where}: category_id {cid} is not in 'categories'", file=annotations)
        if ann.get("iscrowd", 0):
            result.crowd_skipped += 1
            continue
        bbox = _field(ann, "bbox", annotations, where)
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(isinstance(v, (int, float)) for v in bbox):
            raise DataError(f"{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}", file=annotations)
        _, width, height = info[iid]
        box = coco_box(width, height, bbox)
        line = format_line(class_of[cid], box) if box is not None else None
        if line is None:
            result.degenerate_skipped += 1
            continue
        lines[iid].append(line)
        result.boxes += 1

    link = final / "images" / split
    check_link(link, images)
    ensure_label_rule(link / "x.jpg", final / "labels" / split / "x.txt")
    warn_one_darknet(link / "x.jpg", final / "labels" / split / "x.txt")
    existing = final / "coco.data"
    options = dict(read_data_file(existing).options) if existing.is_file() else {}
    if total is not None:
        total(len(info))

    entries = []
    with staged_directory(final) as stage:
        labels = stage / "labels" / split
        labels.mkdir(parents=True)
        made: set[str] = set()
        prefix, label_prefix = str(link) + "/", str(labels) + "/"
        for iid, (name, _, _) in info.items():
            rel = str(PurePosixPath(name).with_suffix(".txt"))
            if "/" in rel:
                folder = os.path.dirname(label_prefix + rel)
                if folder not in made:
                    os.makedirs(folder, exist_ok=True)
                    made.add(folder)
            with open(label_prefix + rel, "w") as fh:
                fh.write(list_text(lines.get(iid, [])))
            entries.append(prefix + name)
            result.images += 1
            if progress is not None:
                progress(1)
        (stage / f"{split}.txt").write_text(list_text(entries))
        (stage / "coco.names").write_text(list_text(names))
        (stage / "coco.map").write_text(list_text([str(c) for c in class_of]))
        (stage / "backup").mkdir(exist_ok=True)
        options.update({"classes": str(len(names)), role: str(result.list),
                        "names": str(final / "coco.names"), "map": str(final / "coco.map")})
        options.setdefault("train", str(result.list))
        options.setdefault("valid", str(result.list))
        options.setdefault("backup", str(final / "backup"))
        options.setdefault("eval", "coco")
        order = ["classes", "train", "valid", "names", "map", "backup", "eval"]
        keys = order + [k for k in options if k not in order]
        (stage / "coco.data").write_text("".join(f"{k} = {options[k]}\n" for k in keys))
    link_images(link, images)
    return result
