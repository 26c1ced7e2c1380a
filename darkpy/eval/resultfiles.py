"""Result files in the three layouts Darknet's `valid` writes, read and written.

- VOC: one `<prefix><class>.txt` per class, lines `image score x1 y1 x2 y2`, 1-based pixels
  (Darknet adds 1 to its 0-based box and clamps to [1, w] x [1, h]); six decimals.
- COCO: one json list of `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`, 0-based
  top-left boxes; the image id is the number after the file name's last `_` (Darknet's rule),
  the category id comes from a per-class table (`map=` file or COCO's 80-id table).
- ImageNet: one text file, lines `index class score x1 y1 x2 y2` with the 1-based position in
  the image list and the 1-based class, 0-based pixels.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from darkpy.errors import DataError
from darkpy.eval.detections import Detections
from darkpy.fileio import atomic_write, inside

VOC_PREFIX = "comp4_det_test_"

# COCO's 80 category ids in Darknet's class order (the ids skip numbers COCO never used).
COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27,
            28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53,
            54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80,
            81, 82, 84, 85, 86, 87, 88, 89, 90]


def image_key(path: str | Path) -> str:
    """The id Darknet writes for an image: file name without folder and extension."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def coco_image_id(path: str | Path) -> int:
    """Darknet's COCO image id: the digits after the last `_` (else the file name's leading digits)."""
    text = str(path)
    cut = max(text.rfind("/"), text.rfind("_"))
    match = re.match(r"\s*[+-]?\d+", text[cut + 1:])
    return int(match.group()) if match else 0


def default_category_ids(classes: int) -> list[int]:
    """The ids Darknet writes without a map: its COCO table, whatever the class count (a 20-class
    net's class 11 is written as 13); beyond 80 classes (where Darknet reads past its table) 1..N."""
    return list(COCO_IDS[:classes]) if classes <= len(COCO_IDS) else list(range(1, classes + 1))


def _clamped(dets: Detections, sizes: dict[str, tuple[int, int]] | None, low: float, shift: float) -> np.ndarray:
    """Boxes shifted by `shift` and clamped as Darknet clamps them before printing: the top-left
    to `low`, the bottom-right to the image's width and height (without sizes: shift only)."""
    box = dets.box + shift
    if sizes:
        wh = np.array([sizes.get(str(k), (np.inf, np.inf)) for k in dets.image], np.float64).reshape(-1, 2)
        box[:, :2] = np.maximum(box[:, :2], low)
        box[:, 2] = np.minimum(box[:, 2], wh[:, 0])
        box[:, 3] = np.minimum(box[:, 3], wh[:, 1])
    return box


# ---------------------------------------------------------------------------------------- VOC

def voc_class_of(path: str | Path, names: Sequence[str], prefix: str = VOC_PREFIX) -> int:
    """The class a VOC result file holds, from its name `<prefix><class>.txt`."""
    stem = Path(path).name
    if stem.endswith(".txt"):
        stem = stem[:-4]
    if stem.startswith(prefix):
        stem = stem[len(prefix):]
        if stem in names:
            return list(names).index(stem)
    else:  # another prefix: the longest class name the file name ends with
        hits = [n for n in names if stem.endswith(n)]
        if hits:
            return list(names).index(max(hits, key=len))
    raise DataError(f"class {stem!r} of this result file is not in the names file", file=path)


def _result_lines(text: str, layout: str, path: str | Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, line, fields) for each non-blank line of a result file, refusing a line
    that does not hold the fields `layout` names."""
    count = len(layout.split())
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != count:
            raise DataError(f"expected {count} fields '{layout}', got {len(fields)}", file=path, line=number)
        yield number, raw, fields


def parse_voc_results(text: str, cls: int, path: str | Path = "<results>") -> Detections:
    images, scores, boxes = [], [], []
    for number, raw, fields in _result_lines(text, "image score x1 y1 x2 y2", path):
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise DataError(f"not a number in {raw.strip()!r}", file=path, line=number) from None
        if not all(np.isfinite(values)):
            raise DataError(f"not a finite number in {raw.strip()!r}", file=path, line=number)
        images.append(fields[0])
        scores.append(values[0])
        boxes.append(values[1:])
    box = np.asarray(boxes, np.float64).reshape(-1, 4) - 1.0
    return Detections(np.array(images, dtype=object), np.full(len(images), cls), np.asarray(scores), box)


def read_voc_results(paths: Iterable[str | Path], names: Sequence[str], prefix: str = VOC_PREFIX) -> Detections:
    """Read per-class VOC result files; the class is taken from each file's name."""
    parts = []
    for path in paths:
        cls = voc_class_of(path, names, prefix)
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise DataError(f"cannot read result file: {exc.strerror}", file=path) from None
        parts.append(parse_voc_results(text, cls, path))
    return Detections.concat(parts)


def voc_result_paths(names: Sequence[str], folder: str | Path, prefix: str = VOC_PREFIX,
                     names_file: str | Path | None = None) -> list[Path]:
    """`<folder>/<prefix><class>.txt` for each class. A class name comes from the names file, so
    it must be a plain file name: `../../tmp/x` or `sq/uare` would write outside the results
    folder (Darknet writes wherever the name points). Checked before the detector runs."""
    folder = Path(folder)
    paths = []
    for c, name in enumerate(names):
        inside(folder, name, what=f"class {c} name", file=names_file)
        paths.append(inside(folder, f"{prefix}{name}.txt", what=f"class {c} result file", file=names_file,
                            subfolders=True))
    return paths


def write_voc_results(dets: Detections, names: Sequence[str], folder: str | Path, prefix: str = VOC_PREFIX,
                      sizes: dict[str, tuple[int, int]] | None = None) -> list[Path]:
    """One file per class (also empty ones, as Darknet opens them all), in detection order.

    With `sizes` (image key -> (w, h)) boxes are clamped as Darknet clamps them.
    """
    folder = Path(folder)
    box = _clamped(dets, sizes, 1.0, 1.0)
    written = []
    paths = voc_result_paths(names, folder, prefix)
    for c, name in enumerate(names):
        idx = np.flatnonzero((dets.cls == c) & (dets.score != 0))  # Darknet prints non-zero scores only
        path = paths[c]
        with atomic_write(path, "w") as fh:
            fh.writelines(f"{dets.image[i]} {dets.score[i]:f} {box[i, 0]:f} {box[i, 1]:f} {box[i, 2]:f} {box[i, 3]:f}\n"
                          for i in idx)
        written.append(path)
    return written


def as_voc_written(dets: Detections, sizes: dict[str, tuple[int, int]] | None = None) -> Detections:
    """The detections exactly as `write_voc_results` + `read_voc_results` would give them back:
    zero scores dropped, boxes clamped to the image and every number cut to six decimals. Scoring
    these in memory gives the numbers that scoring the written files gives."""
    keep = np.flatnonzero(dets.score != 0)
    dets = dets.take(keep)
    if not len(dets):
        return dets
    box = _clamped(dets, sizes, 1.0, 1.0)
    printed = np.char.mod("%f", np.concatenate([dets.score[:, None], box], 1)).astype(np.float64)
    return Detections(dets.image, dets.cls, printed[:, 0], printed[:, 1:] - 1.0)


# --------------------------------------------------------------------------------------- COCO

def read_coco_results(path: str | Path) -> list[dict]:
    """The raw records of a COCO result file; `resolve_coco_results` turns ids into keys.

    Darknet's file is valid json only after its final comma is removed, which its `valid` does;
    a trailing comma before `]` is accepted here too.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read result file: {exc.strerror}", file=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = json.loads(re.sub(r",\s*\]\s*$", "]", text))
        except json.JSONDecodeError:
            raise DataError(f"not valid json: {exc.msg}", file=path, line=exc.lineno) from None
    if not isinstance(data, list):
        raise DataError("expected a json list of detections", file=path)
    for i, rec in enumerate(data):
        ok = (isinstance(rec, dict) and {"image_id", "category_id", "bbox", "score"} <= rec.keys()
              and isinstance(rec["bbox"], list) and len(rec["bbox"]) == 4)
        if ok:
            try:
                rec["_values"] = [float(v) for v in rec["bbox"]] + [float(rec["score"])]
                int(rec["image_id"]), int(rec["category_id"])
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise DataError(f"detection #{i + 1} needs image_id, category_id, bbox [x,y,w,h] and score",
                            file=path, line=_json_line(text, i))
    return data


def _json_line(text: str, index: int) -> int | None:
    """Line of the index-th top-level object, for errors (Darknet writes one per line)."""
    depth, count = 0, -1
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
        elif ch in "{[":
            depth += 1
            if ch == "{" and depth == 2:
                count += 1
                if count == index:
                    return line
        elif ch in "}]":
            depth -= 1
    return None


def resolve_coco_results(records: list[dict], image_keys: dict[int, str], category_ids: Sequence[int],
                         path: str | Path = "<results>") -> Detections:
    """Map COCO ids to image keys and class indices; unknown ids are errors."""
    cat_index = {int(c): i for i, c in enumerate(category_ids)}
    n = len(records)
    images = np.empty(n, dtype=object)
    cls = np.empty(n, np.int64)
    vals = np.empty((n, 5), np.float64)
    for i, rec in enumerate(records):
        img, cat = int(rec["image_id"]), int(rec["category_id"])
        if img not in image_keys:
            raise DataError(f"detection #{i + 1}: image_id {img} is not in the ground truth", file=path)
        if cat not in cat_index:
            raise DataError(f"detection #{i + 1}: category_id {cat} is not one of the classes", file=path)
        images[i] = image_keys[img]
        cls[i] = cat_index[cat]
        vals[i] = rec["_values"] if "_values" in rec else [*map(float, rec["bbox"]), float(rec["score"])]
    box = vals[:, :4].copy()
    box[:, 2] += box[:, 0]
    box[:, 3] += box[:, 1]
    return Detections(images, cls, vals[:, 4], box)


def write_coco_results(dets: Detections, path: str | Path, image_ids: dict[str, int],
                       category_ids: Sequence[int], sizes: dict[str, tuple[int, int]] | None = None) -> Path:
    """Darknet's layout: one object per line, `%f` numbers, clamped to the image when sizes are given."""
    box = _clamped(dets, sizes, 0.0, 0.0)
    lines = [
        f'{{"image_id":{image_ids[str(dets.image[i])]}, "category_id":{category_ids[dets.cls[i]]}, '
        f'"bbox":[{box[i, 0]:f}, {box[i, 1]:f}, {box[i, 2] - box[i, 0]:f}, {box[i, 3] - box[i, 1]:f}], '
        f'"score":{dets.score[i]:f}}}'
        for i in np.flatnonzero(dets.score != 0)
    ]
    with atomic_write(path, "w") as fh:
        fh.write("[\n" + ",\n".join(lines) + "\n]\n")
    return Path(path)


# ----------------------------------------------------------------------------------- ImageNet

def read_imagenet_results(path: str | Path, images: Sequence[str], classes: int | None = None) -> Detections:
    """Lines `index class score x1 y1 x2 y2`: 1-based image position in the list, 1-based class."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read result file: {exc.strerror}", file=path) from None
    rows = []
    for number, raw, fields in _result_lines(text, "index class score x1 y1 x2 y2", path):
        try:
            idx, cls = int(fields[0]), int(fields[1])
            values = [float(v) for v in fields[2:]]
        except ValueError:
            raise DataError(f"not a number in {raw.strip()!r}", file=path, line=number) from None
        if not 1 <= idx <= len(images):
            raise DataError(f"image index {idx} outside the list (1..{len(images)})", file=path, line=number)
        if cls < 1 or (classes is not None and cls > classes):
            raise DataError(f"class {cls} out of range", file=path, line=number)
        rows.append((images[idx - 1], cls - 1, *values))
    return Detections.from_records(rows)


def write_imagenet_results(dets: Detections, path: str | Path, images: Sequence[str],
                           sizes: dict[str, tuple[int, int]] | None = None) -> Path:
    position = {key: i + 1 for i, key in enumerate(images)}
    box = _clamped(dets, sizes, 0.0, 0.0)
    with atomic_write(path, "w") as fh:
        fh.writelines(
            f"{position[str(dets.image[i])]} {dets.cls[i] + 1} {dets.score[i]:f} "
            f"{box[i, 0]:f} {box[i, 1]:f} {box[i, 2]:f} {box[i, 3]:f}\n"
            for i in np.flatnonzero(dets.score != 0))
    return Path(path)
