"""Ground truth from the three places it lives: Darknet label files, VOC XML, COCO json."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from darkpy.formats.datafile import read_list
from darkpy.errors import DataError
from darkpy.eval.detections import GroundTruth
from darkpy.eval.resultfiles import coco_image_id, image_key
from darkpy.formats.labels import label_file, read_labels, resolve_entry
from darkpy.formats.imagesize import ImageUnreadable
from darkpy.formats.imagesize import image_size as header_size


def _image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header (darkpy.formats.imagesize), as a DataError when unreadable."""
    try:
        return header_size(path)
    except ImageUnreadable as exc:
        raise DataError(f"cannot read image size: {exc}", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read image: {exc.strerror}", file=path) from None


def _find_image(entry: str, list_dir: Path) -> Path | None:
    path = resolve_entry(entry, list_dir)
    return path if path.is_file() else None


def find_label_files(entries: Sequence[str], list_path: str | Path) -> list[Path]:
    """The label file of every entry (`darkpy.formats.labels.label_file`, the rule training uses);
    the first entry without one is an error naming both."""
    list_path = Path(list_path)
    out = []
    for entry in entries:
        label = label_file(entry, list_path.parent)
        if not label.is_file():
            raise DataError(f"no label file for image {entry!r} (looked for {label})", file=list_path)
        out.append(label)
    return out


def gt_from_labels(list_path: str | Path, names: Sequence[str],
                   sizes: dict[str, tuple[int, int]] | None = None,
                   default_size: tuple[int, int] | None = None,
                   entries: Sequence[str] | None = None) -> GroundTruth:
    """Ground truth from an image list and Darknet label files (which hold no difficult flags).

    Pixel boxes need each image's size: from `sizes` (key -> (w, h)), else the image header,
    else `default_size`. Darknet's 0-based pixel box is (cx - w/2) * W ... (cx + w/2) * W.
    `entries` (a subset of the list, say the images a network could read) replaces the list's
    own lines; relative paths are still looked up beside `list_path`.
    """
    list_path = Path(list_path)
    entries = read_list(list_path) if entries is None else list(entries)
    sizes = dict(sizes or {})
    images, image_idx, cls, boxes = [], [], [], []
    labels = find_label_files(entries, list_path)
    for entry, label in zip(entries, labels):
        key = image_key(entry)
        size = sizes.get(key)
        if size is None:
            img = _find_image(entry, list_path.parent)
            if img is not None:
                size = _image_size(img)
            elif default_size is not None:
                size = default_size
            else:
                raise DataError(f"image {entry!r} not found: its size is needed to score normalised labels "
                                "(give the image size, or VOC XML annotations)", file=list_path)
        sizes[key] = size
        rows = read_labels(label, classes=len(names))
        w, h = size
        for c, cx, cy, bw, bh in rows.astype(np.float64):
            boxes.append(((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
            cls.append(int(c))
            image_idx.append(len(images))
        images.append(key)
    return GroundTruth(list(names), images, np.array(image_idx, np.int64), np.array(cls, np.int64),
                       np.array(boxes, np.float64).reshape(-1, 4),
                       coco_image_ids=[coco_image_id(e) for e in entries], sizes=sizes)


def gt_from_voc(list_path: str | Path | Sequence[str], annotations: str | Path, names: Sequence[str]) -> GroundTruth:
    """Ground truth from VOC XML (`<annotations>/<key>.xml`), difficult flags kept.

    Objects of classes not in `names` are skipped, as VOC's evaluation reads one class at a time.
    """
    import xml.etree.ElementTree as ET  # here: only VOC ground truth needs it (4 ms at every recall)

    entries = read_list(list_path) if isinstance(list_path, (str, Path)) else list(list_path)
    annotations = Path(annotations)
    index = {n: i for i, n in enumerate(names)}
    images, image_idx, cls, boxes, difficult, sizes = [], [], [], [], [], {}
    for entry in entries:
        key = image_key(entry)
        path = annotations / f"{key}.xml"
        try:
            root = ET.parse(path).getroot()
        except OSError as exc:
            raise DataError(f"cannot read annotation: {exc.strerror}", file=path) from None
        except ET.ParseError as exc:
            raise DataError(f"not valid XML: {exc}", file=path, line=exc.position[0]) from None
        size = root.find("size")
        if size is not None and size.findtext("width") and size.findtext("height"):
            try:
                sizes[key] = (int(float(size.findtext("width"))), int(float(size.findtext("height"))))
            except ValueError:
                raise DataError("size is not a number", file=path) from None
        for obj in root.iter("object"):
            name = (obj.findtext("name") or "").strip()
            if name not in index:
                continue
            bb = obj.find("bndbox")
            try:
                coords = [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            except (AttributeError, TypeError, ValueError):
                raise DataError(f"object {name!r} has no numeric bndbox", file=path) from None
            boxes.append([v - 1.0 for v in coords])
            cls.append(index[name])
            difficult.append((obj.findtext("difficult") or "0").strip() not in ("0", ""))
            image_idx.append(len(images))
        images.append(key)
    return GroundTruth(list(names), images, np.array(image_idx, np.int64), np.array(cls, np.int64),
                       np.array(boxes, np.float64).reshape(-1, 4), difficult=np.array(difficult, bool),
                       coco_image_ids=[coco_image_id(e) for e in entries], sizes=sizes)


def gt_from_coco(path: str | Path, names: Sequence[str] | None = None) -> GroundTruth:
    """Ground truth from a COCO json; classes are its categories in id order.

    With `names`, classes follow the names file instead (categories matched by name). Crowd
    boxes are kept as crowd (COCO ignores them); the VOC metrics treat them as difficult.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise DataError(f"cannot read COCO json: {exc.strerror}", file=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid json: {exc.msg}", file=path, line=exc.lineno) from None
    try:
        cats = sorted(data["categories"], key=lambda c: int(c["id"]))
        imgs = data["images"]
        anns = data.get("annotations", [])
    except (KeyError, TypeError):
        raise DataError("COCO json needs 'images' and 'categories'", file=path) from None
    if names is None:
        names = [str(c["name"]) for c in cats]
        category_ids = [int(c["id"]) for c in cats]
    else:
        by_name = {str(c["name"]): int(c["id"]) for c in cats}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(f"classes {missing} of the names file are not COCO categories", file=path)
        category_ids = [by_name[n] for n in names]
    cat_index = {c: i for i, c in enumerate(category_ids)}
    images = sorted(imgs, key=lambda im: int(im["id"]))
    id_index = {int(im["id"]): i for i, im in enumerate(images)}
    keys = [image_key(im.get("file_name", str(im["id"]))) for im in images]
    rows = []
    for a in anns:
        try:
            img, cat = id_index[int(a["image_id"])], int(a["category_id"])
            x, y, w, h = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"annotation {a.get('id')!r} is malformed or names an unknown image", file=path) from None
        if cat not in cat_index:
            continue
        area = float(a["area"]) if "area" in a else w * h
        rows.append((img, cat_index[cat], x, y, x + w, y + h, bool(a.get("iscrowd", 0)), area, int(a.get("id", 0))))
    # pycocotools visits annotations per image in file order; a stable sort by image keeps that.
    rows.sort(key=lambda r: r[0])
    arr = np.array([r[:6] for r in rows], np.float64).reshape(-1, 6)
    gt = GroundTruth(list(names), keys, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2:6],
                     difficult=np.array([r[6] for r in rows], bool), crowd=np.array([r[6] for r in rows], bool),
                     area=np.array([r[7] for r in rows], np.float64),
                     coco_image_ids=[int(im["id"]) for im in images], category_ids=category_ids,
                     sizes={k: (int(im.get("width", 0)), int(im.get("height", 0))) for k, im in zip(keys, images)})
    return gt
