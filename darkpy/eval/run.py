"""Running a detector over a `.data` file's `valid` list, the way Darknet's `detector valid` does.

Darknet's settings for validation: every image letterboxed to the network size, boxes kept down
to a class probability of 0.005 (tree networks stop their walk below 0.5), `do_nms_sort` at IoU
0.45, boxes mapped back to the original image's pixels. The detections come out box by box and,
within a box, class by class: the order Darknet prints them in, which decides how tied scores
fall when they are scored.

Three callers share `run_detector`: `darkpy valid` (writes result files), `darkpy map` (scores
them) and the `--map` hook of `darkpy train`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from darkpy.formats.datafile import DataFile, read_data_file, read_list, read_map, read_names
from darkpy.detect.decode import tree_map_applies
from darkpy.detect.base import DetectorBase
from darkpy.detect.numpy_engine import detector_for
from darkpy.detect.options import VALID_HIER, VALID_NMS, VALID_THRESH, DetectOptions
from darkpy.errors import DataError, UsageError
from darkpy.fileio import not_a_file
from darkpy.boxes import center_to_corners
from darkpy.eval.detections import Detections
from darkpy.eval.progress import progress_bar
from darkpy.eval.resultfiles import (
    VOC_PREFIX, default_category_ids, image_key, coco_image_id, write_coco_results,
    write_imagenet_results, write_voc_results)

EVAL_TYPES = ("voc", "coco", "imagenet")


@dataclass
class RunResult:
    """What a pass over an image list produced."""

    dets: Detections
    entries: list[str]  # list entries that were run, in list order
    keys: list[str]  # their image keys (file stem, Darknet's `basecfg`)
    sizes: dict[str, tuple[int, int]]  # key -> (w, h)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry, why)
    seconds: float = 0.0
    listed: list[str] = field(default_factory=list)  # keys of every list entry, skipped ones too


def _skip_message(entry: str, why: str) -> None:
    print(f"darkpy: skipping {entry}: {why}", file=sys.stderr)


def run_detector(net, entries: Sequence[str], *, base: Path | None = None, batch: int = 8, workers: int = 0,
                 thresh: float = VALID_THRESH, hier_thresh: float = VALID_HIER, nms: float = VALID_NMS,
                 letterbox: bool = True, progress: bool | None = None,
                 on_skip: Callable[[str, str], None] | None = None, predictor=None,
                 class_map: Sequence[int] | None = None, detector=None) -> RunResult:
    """Detections (original-image pixels, x1 y1 x2 y2) for every readable image of `entries`.

    `net` is a darkpy Network (its batch norm is folded into a copy for speed), a
    `darkpy.net.inference.Predictor`, a `NumpyNetwork` (the torch-free engine) or a detector (then its options rule and the keyword
    settings here are ignored). Unreadable images are reported to `on_skip(entry, why)`
    (default: a line on stderr) and left out of the result. `class_map` (a `map=` file's
    numbers) turns a WordTree network's output into one class per listed node (`decode_mapped`).
    """
    import time

    if detector is None:
        detector = net if isinstance(net, DetectorBase) else None
    if detector is None:
        options = DetectOptions.valid(thresh=thresh, hier_thresh=hier_thresh, nms=nms, letterbox=letterbox,
                                      batch=batch, workers=workers, class_map=class_map)
        detector = detector_for(predictor if predictor is not None else net, options)
    on_skip = on_skip or _skip_message
    parts, done, keys, sizes, skipped = [], [], [], {}, []
    start = time.perf_counter()
    bar = progress_bar(len(entries), "valid", progress, unit="img", leave=False)

    def skip(entry: str, error) -> None:
        bar.update(1)
        skipped.append((entry, error.message))
        on_skip(entry, error.message)

    try:
        for r in detector.stream(entries, on_error=skip, base=base):
            bar.update(1)
            key = image_key(r.source)
            # Darknet's `detector valid` scales the centre box to pixels, then takes corners
            parts.append(Detections.from_probs(key, center_to_corners(r.pixel_boxes), r.probs))
            done.append(r.source)
            keys.append(key)
            sizes[key] = (r.width, r.height)
    finally:
        bar.close()
    return RunResult(Detections.concat(parts), done, keys, sizes, skipped, time.perf_counter() - start,
                     [image_key(e) for e in entries])


# -- the .data file's side --------------------------------------------------------------------

@dataclass
class ValidSetup:
    """Everything `valid`/`map`/`recall` read from a `.data` file."""

    data: DataFile
    list_path: Path
    entries: list[str]
    names: list[str]
    eval_type: str
    results_dir: Path
    map_file: Path | None


def valid_setup(data_path: str | Path, eval_type: str | None = None) -> ValidSetup:
    """Read the `.data` file: `valid=` (required), `names=`, `eval=`, `results=`, `map=`."""
    data = read_data_file(data_path)
    if "valid" not in data.options:
        raise DataError("no 'valid=' entry: name the image list to evaluate on", file=data.path)
    list_path = data.resolve("valid")
    why = not_a_file(list_path)
    if why is not None:
        raise DataError(f"valid list {data.get('valid')!r}: {why}", file=data.path,
                        line=data.lines.get("valid"))
    entries = read_list(list_path)
    if not entries:
        raise DataError("the valid list is empty", file=list_path)
    names_path = data.resolve("names")
    if names_path is None:
        raise DataError("no 'names=' entry", file=data.path)
    names = read_names(names_path)
    kind = (eval_type or data.get("eval", "voc") or "voc").strip().lower()
    if kind not in EVAL_TYPES:
        raise UsageError(f"unknown eval type {kind!r}; choose from {', '.join(EVAL_TYPES)}")
    results = Path(data.get("results", "results"))
    map_file = data.resolve("map")
    return ValidSetup(data, list_path, entries, names, kind, results, map_file)


def class_map_for(setup: ValidSetup, net) -> list[int] | None:
    """The `map=` table when Darknet would decode with it (a WordTree network), else None."""
    if setup.map_file is not None and tree_map_applies(net):
        return read_map(setup.map_file)
    return None


def check_classes(net, names: Sequence[str], names_file=None, class_map: Sequence[int] | None = None) -> int:
    """The network's class count (the map's length with a `map=` table); the names file must cover it."""
    layers = net.detection_layers
    if not layers:
        raise DataError("the network has no [region] or [yolo] layer: it is not a detector",
                        file=getattr(net, "cfg_path", None))
    classes = len(class_map) if class_map is not None else int(layers[-1].classes)
    if len(names) < classes:
        raise DataError(f"the names file has {len(names)} names for a network with {classes} classes",
                        file=names_file)
    return classes


def write_results(result: RunResult, names: Sequence[str], folder: str | Path, eval_type: str = "voc",
                  category_ids: Sequence[int] | None = None, prefix: str | None = None) -> list[Path]:
    """Darknet's result files for a run: VOC per-class files, COCO json or the ImageNet text file.

    Boxes are clamped to each image as Darknet clamps them before printing."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if eval_type == "coco":
        ids = {k: coco_image_id(e) for e, k in zip(result.entries, result.keys)}
        cats = list(category_ids) if category_ids is not None else default_category_ids(len(names))
        if len(cats) < len(names):
            raise DataError(f"the category map has {len(cats)} ids for {len(names)} classes")
        path = folder / f"{prefix or 'coco_results'}.json"
        return [write_coco_results(result.dets, path, ids, cats, result.sizes)]
    if eval_type == "imagenet":
        path = folder / f"{prefix or 'imagenet-detection'}.txt"
        return [write_imagenet_results(result.dets, path, result.listed or result.keys, result.sizes)]
    return write_voc_results(result.dets, names, folder, prefix or VOC_PREFIX, result.sizes)


def category_ids_for(setup: ValidSetup, net) -> list[int] | None:
    """COCO category ids: the `map=` file for a network without a WordTree, else Darknet's table."""
    if setup.map_file is not None and not tree_map_applies(net):
        return read_map(setup.map_file)
    return None
