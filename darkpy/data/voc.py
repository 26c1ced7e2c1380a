"""PASCAL VOC XML annotations to Darknet labels, as Darknet's `scripts/voc_label.py` makes them.

The arithmetic is voc_label's, on purpose: VOC pixel coordinates are 1-based, and voc_label
subtracts 1 from the box centre (not from the size) before normalising, multiplying by 1/width
rather than dividing. Weights trained on Darknet's VOC labels expect exactly these numbers, so
they are reproduced bit for bit, including the number format (Python's shortest float repr).

Difficult objects: voc_label leaves them out of the training labels, and so does this converter
unless `difficult=True`. Every object of a known class, difficult or not, is also written to a
side file beside each image list (`2007_test.txt` -> `2007_test.eval.txt`, lines
`IMAGE_ID class x y w h difficult`), because VOC's evaluation ignores detections matched to
difficult objects instead of counting them as false positives. One file per list rather than one
per image: creating files is what conversion spends its time on.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from darkpy.errors import DataError, UsageError
from darkpy.fileio import inside, open_regular, staged_directory
from darkpy.data.layout import check_link, ensure_label_rule, link_images, list_text

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)


@dataclass
class VocObject:
    cls: int
    box: tuple[float, float, float, float]  # x, y, w, h as voc_label computes them
    difficult: bool


@dataclass
class VocResult:
    data: Path
    lists: dict[str, Path]
    images: int = 0
    boxes: int = 0
    difficult_skipped: int = 0
    unknown_classes: Counter = field(default_factory=Counter)


def parse_sets(text: str | list[str]) -> list[tuple[str, str]]:
    """`2007:trainval,2012:trainval` -> [("2007", "trainval"), ("2012", "trainval")]."""
    items = text if isinstance(text, list) else [text]
    sets = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            year, sep, name = part.partition(":")
            if not sep or not year or not name:
                raise UsageError(f"--sets expects YEAR:SET items such as 2007:trainval, got {part!r}")
            if (year, name) not in sets:
                sets.append((year, name))
    if not sets:
        raise UsageError("--sets names no set")
    return sets


def voc_box(width: int, height: int, xmin: float, xmax: float, ymin: float,
            ymax: float) -> tuple[float, float, float, float]:
    """voc_label's conversion, operation for operation (so the floats are identical)."""
    dw = 1.0 / width
    dh = 1.0 / height
    x = (xmin + xmax) / 2.0 - 1
    y = (ymin + ymax) / 2.0 - 1
    return x * dw, y * dh, (xmax - xmin) * dw, (ymax - ymin) * dh


def _text(node: ET.Element, tag: str, path: Path, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DataError(f"{where}: no <{tag}>", file=path)
    return child.text.strip()


def _number(node: ET.Element, tag: str, path: Path, where: str) -> float:
    value = _text(node, tag, path, where)
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{where}: <{tag}> is not a number: {value!r}", file=path) from None


def parse_annotation(path: Path, classes: tuple[str, ...] | list[str] = VOC_CLASSES,
                     unknown: Counter | None = None) -> list[VocObject]:
    """Objects of known classes in one VOC XML file; unknown class names are counted, not kept."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataError(f"not valid XML: {exc}", file=path, line=exc.position[0]) from None
    except OSError as exc:
        raise DataError(f"cannot read annotation: {exc.strerror}", file=path) from None
    size = root.find("size")
    if size is None:
        raise DataError("no <size> (image width and height are needed to normalise boxes)", file=path)
    width = int(_number(size, "width", path, "<size>"))
    height = int(_number(size, "height", path, "<size>"))
    if width <= 0 or height <= 0:
        raise DataError(f"<size> is {width}x{height}; width and height must be positive", file=path)
    index = {name: i for i, name in enumerate(classes)}
    objects = []
    for n, obj in enumerate(root.iter("object"), 1):
        where = f"object {n}"
        name = _text(obj, "name", path, where)
        if name not in index:
            if unknown is not None:
                unknown[name] += 1
            continue
        flag = obj.find("difficult")
        try:
            difficult = flag is not None and flag.text is not None and int(flag.text.strip() or 0) == 1
        except ValueError:
            raise DataError(f"{where} ({name}): <difficult> is not 0 or 1: {flag.text!r}",
                            file=path) from None
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataError(f"{where} ({name}): no <bndbox>", file=path)
        where = f"{where} ({name}) <bndbox>"
        xmin, xmax = _number(bndbox, "xmin", path, where), _number(bndbox, "xmax", path, where)
        ymin, ymax = _number(bndbox, "ymin", path, where), _number(bndbox, "ymax", path, where)
        objects.append(VocObject(index[name], voc_box(width, height, xmin, xmax, ymin, ymax), difficult))
    return objects


def label_line(obj: VocObject) -> str:
    return f"{obj.cls} " + " ".join(str(v) for v in obj.box)


def read_set(devkit: Path, year: str, name: str) -> list[str]:
    path = devkit / f"VOC{year}" / "ImageSets" / "Main" / f"{name}.txt"
    try:
        with open_regular(path, f"image set {year}:{name}", DataError, "r", encoding="utf-8",
                          errors="replace") as fh:
            ids = fh.read().split()
    except OSError as exc:
        raise DataError(f"cannot read image set {year}:{name}: {exc.strerror}", file=path) from None
    for image_id in ids:  # each id names VOCyyyy/labels/ID.txt: a plain file name, nothing else
        inside(devkit / f"VOC{year}" / "Annotations", image_id, what="image id", file=path)
    return ids


def convert(devkit: str | Path, sets: str | list[str] | list[tuple[str, str]], out: str | Path, *,
            difficult: bool = False, classes: tuple[str, ...] | list[str] = VOC_CLASSES,
            progress: Callable[[int], None] | None = None,
            total: Callable[[int], None] | None = None) -> VocResult:
    """Convert the named sets of a VOCdevkit into Darknet's layout under `out`.

    Writes `VOCyyyy/labels/ID.txt` (training labels), `VOCyyyy/JPEGImages` (a link to the
    devkit's images), `YEAR_SET.txt` lists with their `YEAR_SET.eval.txt` side files (all objects
    with a difficult flag), `train.txt` (every set except the test sets), `voc.names` and
    `voc.data`. Nothing is written unless every annotation converts.
    """
    devkit = Path(devkit).expanduser().resolve()
    final = Path(out).expanduser().resolve()
    if sets and isinstance(sets, list) and isinstance(sets[0], tuple):
        pairs = list(sets)  # type: ignore[arg-type]
    else:
        pairs = parse_sets(sets)  # type: ignore[arg-type]
    if not devkit.is_dir():
        raise DataError("VOCdevkit folder not found", file=devkit)

    ids = {pair: read_set(devkit, *pair) for pair in pairs}
    years = sorted({year for year, _ in pairs})
    for year in years:
        jpegs = devkit / f"VOC{year}" / "JPEGImages"
        check_link(final / f"VOC{year}" / "JPEGImages", jpegs)
        ensure_label_rule(final / f"VOC{year}" / "JPEGImages" / "x.jpg",
                          final / f"VOC{year}" / "labels" / "x.txt")
    if total is not None:
        total(len({(y, i) for (y, _), v in ids.items() for i in v}))

    result = VocResult(data=final / "voc.data", lists={})
    parsed: dict[tuple[str, str], list[VocObject]] = {}
    with staged_directory(final) as stage:
        for year in years:
            (stage / f"VOC{year}" / "labels").mkdir(parents=True)
        for (year, name), image_ids in ids.items():
            prefix = str(final / f"VOC{year}" / "JPEGImages") + os.sep
            labels = str(stage / f"VOC{year}" / "labels") + os.sep
            entries, side = [], []
            for image_id in image_ids:
                entries.append(f"{prefix}{image_id}.jpg")
                objects = parsed.get((year, image_id))
                if objects is None:
                    xml = devkit / f"VOC{year}" / "Annotations" / f"{image_id}.xml"
                    objects = parse_annotation(xml, classes, result.unknown_classes)
                    parsed[(year, image_id)] = objects
                    kept = [o for o in objects if difficult or not o.difficult]
                    result.difficult_skipped += len(objects) - len(kept)
                    result.boxes += len(kept)
                    result.images += 1
                    with open(f"{labels}{image_id}.txt", "w") as fh:
                        fh.write("".join(label_line(o) + "\n" for o in kept))
                    if progress is not None:
                        progress(1)
                side.extend(f"{image_id} {label_line(o)} {int(o.difficult)}\n" for o in objects)
            list_name = f"{year}_{name}.txt"
            (stage / list_name).write_text(list_text(entries))
            (stage / f"{year}_{name}.eval.txt").write_text("".join(side))
            result.lists[f"{year}:{name}"] = final / list_name

        def joined(keep: Callable[[str], bool]) -> list[str]:
            seen: dict[str, None] = {}
            for (year, name), image_ids in ids.items():
                if keep(name):
                    for image_id in image_ids:
                        seen.setdefault(str(final / f"VOC{year}" / "JPEGImages" / f"{image_id}.jpg"))
            return list(seen)

        train = joined(lambda name: name != "test")
        test = joined(lambda name: name == "test")
        (stage / "train.txt").write_text(list_text(train))
        result.lists["train"] = final / "train.txt"
        valid = final / "train.txt"
        if test:
            tests = [f"{y}_{n}.txt" for y, n in pairs if n == "test"]
            valid = final / tests[0] if len(tests) == 1 else final / "test.txt"
            if len(tests) > 1:
                (stage / "test.txt").write_text(list_text(test))
        (stage / "voc.names").write_text(list_text(list(classes)))
        (stage / "backup").mkdir(exist_ok=True)
        (stage / "voc.data").write_text(
            f"classes = {len(classes)}\n"
            f"train = {final / 'train.txt'}\n"
            f"valid = {valid}\n"
            f"names = {final / 'voc.names'}\n"
            f"backup = {final / 'backup'}\n"
        )
    for year in years:
        link_images(final / f"VOC{year}" / "JPEGImages", devkit / f"VOC{year}" / "JPEGImages")
    return result
