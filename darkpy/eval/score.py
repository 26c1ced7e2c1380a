"""One scoring path: a network over a `.data` file's valid list, Darknet's result files, mAP.

`darkpy valid` (result files only), `darkpy map DATA CFG WEIGHTS` (result files, then the
score of what was written) and the `--map` hook of `darkpy train` (the score, no files) all
call `score_valid`; they differ only in what they ask it for.

The sequence: the `map=` table a WordTree network decodes with; the class count, checked
against the names file; the pass over the list (`run_detector`, Darknet's valid settings);
the result files (VOC per class, COCO json or ImageNet text) when a folder is given; then,
when asked, the ground truth (label files or VOC XML) and `evaluate`. What is scored is what
the files hold: read back when they were written, else the same numbers made in memory
(`as_voc_written`), so the three callers agree to the last printed digit.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from darkpy.detect.base import DetectorBase
from darkpy.detect.numpy_engine import detector_for
from darkpy.detect.options import DetectOptions
from darkpy.errors import DataError
from darkpy.eval.detections import GroundTruth
from darkpy.eval.evaluate import EvalReport, evaluate, parse_metrics
from darkpy.formats.datafile import read_names
from darkpy.eval.groundtruth import find_label_files, gt_from_labels, gt_from_voc
from darkpy.eval.load import load_results
from darkpy.eval.ilsvrc import default_coco_split
from darkpy.eval.resultfiles import VOC_PREFIX, as_voc_written, coco_image_id, voc_result_paths
from darkpy.eval.run import (
    RunResult, ValidSetup, category_ids_for, check_classes, class_map_for, run_detector, write_results)


@dataclass
class Scored:
    """What `score_valid` produced: the run, the result files written and the report (if asked)."""

    run: RunResult  # detections per image, entries run and skipped, image sizes, seconds
    detector: DetectorBase  # what ran (its options and predictor: precision, device)
    names: list[str]  # the classes written and scored (the names file cut to the network's classes)
    eval_type: str  # layout of the result files: voc, coco or imagenet
    folder: Path | None = None  # where the result files went (None: none written)
    files: list[Path] = field(default_factory=list)
    report: EvalReport | None = None
    truth: GroundTruth | None = None


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def score_valid(setup: ValidSetup, net, options: DetectOptions | None = None, *, predictor=None,
                out: str | Path | None = None, prefix: str | None = None, all_names: bool = False,
                score: bool = False, truth: GroundTruth | None = None, annotations: str | Path | None = None,
                metric: str | Sequence[str] = "all", iou_thresh: float = 0.5, thresh: float = 0.25,
                coco_split: str | Path | None = None, progress: bool | None = None,
                on_skip: Callable[[str, str], None] | None = None,
                on_note: Callable[[str], None] = _note) -> Scored:
    """Run `net` over `setup`'s valid list; write Darknet's result files into `out` (None: none);
    with `score`, evaluate the detections against the list's ground truth.

    `net` is the darkpy Network or a `NumpyNetwork` (the torch-free engine: no torch imported);
    it decides the `map=` table and the class count; `predictor`
    runs it when given (a precision other than fp32), else the network itself. `options` are
    Darknet's valid settings by default; their class map is always the one `setup` and `net`
    call for. `all_names` writes a result file for every name of the names file (`darkpy
    valid`), not only for the network's classes. `truth` is ground truth read beforehand (the
    training hook reads it once); else it is read after the run, from VOC XML in `annotations`
    or from the label files (checked to exist before the network runs). `coco_split` is the
    ILSVRC metric's file of classes with COCO data (`coco_split_for`). The other scoring
    arguments go to `evaluate`; notes (a fallback taken) go to `on_note`.
    """
    if score and truth is None and annotations is None:
        find_label_files(setup.entries, setup.list_path)  # a missing label stops us before the run
    cmap = class_map_for(setup, net)
    classes = check_classes(net, setup.names, setup.data.resolve("names"), cmap)
    names = list(setup.names if all_names else setup.names[:classes])
    split, rule = coco_split_for(metric, names, coco_split, on_note) if score else (None, "")
    if out is not None and (setup.eval_type == "voc" or score):
        # class names become file names (VOC, and map's fallback when COCO ids collide): checked
        # before the detector runs
        voc_result_paths(names, out, prefix or VOC_PREFIX, setup.data.resolve("names"))
    options = (options or DetectOptions.valid()).replace(class_map=cmap)
    detector = detector_for(predictor if predictor is not None else net, options)
    result = run_detector(detector, setup.entries, base=setup.list_path.parent, progress=progress,
                          on_skip=on_skip)
    if score and truth is None and not result.entries:  # (truth read beforehand: an empty run scores 0)
        raise DataError("no image of the valid list could be read", file=setup.list_path)
    kind = setup.eval_type
    if score and out is not None and kind == "coco" \
            and len({coco_image_id(e) for e in result.entries}) != len(result.entries):
        on_note("note: COCO image ids from these file names collide; scoring through VOC result files")
        kind = "voc"
    scored = Scored(result, detector, names, kind)
    cats = category_ids_for(setup, net)
    if out is not None:
        scored.folder = Path(out)
        scored.files = write_results(result, names, scored.folder, kind, cats, prefix)
    if not score:
        return scored
    scored.truth = _truth_for(setup, result, names, truth, annotations)
    if scored.files:
        cat_file = setup.map_file if cats is not None else None
        dets = load_results(scored.files, scored.truth, kind, cat_file, image_list=result.listed)
    else:
        dets = result.dets.take(np.flatnonzero(result.dets.cls < len(scored.truth.names)))
        dets = as_voc_written(dets, result.sizes)
    scored.report = evaluate(dets, scored.truth, metric, iou_thresh=iou_thresh, thresh=thresh,
                             coco_split=split, split_note=rule)
    return scored


def _truth_for(setup: ValidSetup, result: RunResult, names: Sequence[str], truth: GroundTruth | None,
               annotations: str | Path | None) -> GroundTruth:
    """The ground truth of the images that were run: `truth` as given when none was skipped."""
    if truth is not None:
        if not result.skipped:
            return truth
        return gt_from_labels(setup.list_path, truth.names, sizes=truth.sizes, entries=result.entries)
    if annotations is not None:
        return gt_from_voc(result.entries, annotations, names)
    return gt_from_labels(setup.list_path, names, sizes=result.sizes, entries=result.entries)


def map_value(report: EvalReport, metric: str) -> float:
    """The one number a metric name stands for (0 when nothing could be scored)."""
    if metric == "voc07":
        value = report.map07
    elif metric == "coco":
        value = report.coco.stats["AP50"] if report.coco is not None else None
    else:
        value = report.map
    return float(value) if value is not None else 0.0


def coco_split_for(metric: str | Sequence[str], names: Sequence[str], split_file: str | Path | None = None,
                   on_note: Callable[[str], None] = _note) -> tuple[Sequence[bool] | None, str]:
    """(flags, rule) of the ILSVRC metric's split into classes with and without COCO data, or
    (None, "") when the metric is not asked for or no split is known for these classes.

    `split_file` lists the classes with COCO data, one name a line; without it Darknet's 200
    DET classes get their split from the shipped tree and maps (`default_coco_split`)."""
    if "ilsvrc" not in parse_metrics(metric):
        if split_file is not None:
            raise DataError(f"a COCO split only applies to the ilsvrc metric, not {metric!r}", file=split_file)
        return None, ""
    if split_file is not None:
        listed = [n.strip() for n in read_names(split_file) if n.strip()]
        unknown = [n for n in listed if n not in names]
        if unknown:
            raise DataError(f"{len(unknown)} name(s) are not classes of the evaluation, e.g. {unknown[0]!r}",
                            file=split_file)
        return [n in set(listed) for n in names], f"COCO data: the classes listed in {split_file}"
    found = default_coco_split(len(names))
    if found is None:
        on_note(f"note: no COCO split for {len(names)} classes (Darknet's DET map has 200); "
                "pass a file of the classes with COCO data")
        return None, ""
    return found
