"""Picking the right reader for what the user points at: result files and ground truth."""
from __future__ import annotations

import glob
from pathlib import Path
from typing import Sequence

from darkpy.formats.datafile import read_map, read_names
from darkpy.errors import DataError, UsageError
from darkpy.eval.detections import Detections, GroundTruth
from darkpy.eval.groundtruth import gt_from_coco, gt_from_labels, gt_from_voc
from darkpy.eval.resultfiles import (
    VOC_PREFIX, default_category_ids, read_coco_results, read_imagenet_results,
    read_voc_results, resolve_coco_results)

FORMATS = ("auto", "voc", "coco", "imagenet")


def load_ground_truth(gt: str | Path, names: str | Path | None = None, annotations: str | Path | None = None,
                      image_size: tuple[int, int] | None = None) -> GroundTruth:
    """A COCO json (`*.json`), or an image list with VOC XML (`annotations`) or Darknet labels."""
    gt = Path(gt)
    if not gt.exists():
        raise DataError("ground truth not found", file=gt)
    class_names = read_names(names) if names is not None else None
    if gt.suffix.lower() == ".json":
        return gt_from_coco(gt, class_names)
    if class_names is None:
        raise UsageError("class names are needed to score against an image list", file=gt)
    if annotations is not None:
        return gt_from_voc(gt, annotations, class_names)
    return gt_from_labels(gt, class_names, default_size=image_size)


def expand_paths(items: Sequence[str | Path]) -> list[Path]:
    """Result paths as given; quoted globs and folders are expanded here (sorted)."""
    out: list[Path] = []
    for item in items:
        text = str(item)
        if any(ch in text for ch in "*?["):
            hits = sorted(glob.glob(text))
            if not hits:
                raise DataError("no result files match this pattern", file=text)
            out += [Path(h) for h in hits]
        elif Path(text).is_dir():
            # Darknet's default names only: a map.json written into the same folder is no result
            hits = [h for pattern in (f"{VOC_PREFIX}*.txt", "coco_results*.json", "imagenet-detection*.txt")
                    for h in sorted(Path(text).glob(pattern))]
            if not hits:
                raise DataError(f"no {VOC_PREFIX}*.txt, coco_results*.json or imagenet-detection*.txt "
                                "result files in this folder", file=text)
            out += hits
        else:
            if not Path(text).is_file():
                raise DataError("result file not found", file=text)
            out.append(Path(text))
    return out


def sniff_format(path: Path) -> str:
    if path.suffix.lower() == ".json":
        return "coco"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.split():
                    return "imagenet" if len(line.split()) == 7 else "voc"
    except OSError as exc:
        raise DataError(f"cannot read result file: {exc.strerror}", file=path) from None
    return "voc"


def load_results(paths: Sequence[Path], gt: GroundTruth, fmt: str = "auto",
                 category_map: str | Path | None = None, image_list: Sequence[str] | None = None) -> Detections:
    """Read result files of one or several formats into detections keyed like `gt`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown result format {fmt!r}; choose from {', '.join(FORMATS)}")
    parts = []
    voc_files = []
    for path in paths:
        kind = sniff_format(path) if fmt == "auto" else fmt
        if kind == "voc":
            voc_files.append(path)
        elif kind == "coco":
            if category_map is not None:
                cats = read_map(category_map)
            else:
                cats = gt.category_ids or default_category_ids(len(gt.names))
            if len(cats) < len(gt.names):
                raise DataError(f"category map has {len(cats)} ids for {len(gt.names)} classes", file=category_map)
            ids = gt.coco_image_ids or list(range(1, len(gt.images) + 1))
            if len(set(ids)) != len(ids):
                raise UsageError("COCO image ids taken from the list's file names collide (Darknet uses the "
                                 "number after the last '_'); score against the COCO json instead")
            parts.append(resolve_coco_results(read_coco_results(path), dict(zip(ids, gt.images)), cats[:len(gt.names)], path))
        else:
            parts.append(read_imagenet_results(path, image_list or gt.images, len(gt.names)))
    if voc_files:
        parts.insert(0, read_voc_results(voc_files, gt.names))
    return Detections.concat(parts)
