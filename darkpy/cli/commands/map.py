"""`darkpy map`: score detections against ground truth.

Two ways in: `darkpy map DATA CFG WEIGHTS` runs the network over the `.data` file's valid list
(as `darkpy valid` does, writing the same result files) and scores what it wrote against the
list's labels; `darkpy map --results FILES --gt LIST --names NAMES` scores result files written
earlier (by darkpy or Darknet). Both end in the same evaluator, so the numbers agree.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from darkpy.cli.precision import inference_predictor, precision_note, precision_option
from darkpy.errors import UsageError


def _size(text: Optional[str]) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--image-size must look like 500x375, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise UsageError(f"--image-size must be positive, got {text!r}")
    return w, h


def map_command(
    paths: Optional[List[str]] = typer.Argument(
        None, metavar="[DATA CFG WEIGHTS | RESULTS...]", help="A .data file, a .cfg and a .weights file to "
        "run the network; or, after --results, more result files (a shell glob lands here).",
        show_default=False),
    results: Optional[List[str]] = typer.Option(
        None, "--results", "-r", help="Result files: comp4_det_test_<class>.txt, coco_results.json or an "
        "ImageNet .txt; a folder or a quoted glob works too. Repeatable."),
    gt: Optional[Path] = typer.Option(
        None, "--gt", help="Image list (with labels or --annotations) or a COCO json."),
    names: Optional[Path] = typer.Option(
        None, "--names", help="Class names, one per line (needed with a list)."),
    metric: str = typer.Option(
        "all", "--metric", "-m", help="voc07, voc, coco, ilsvrc (ImageNet DET: size-dependent IoU, "
        "split by COCO data) or all (= voc07,voc,coco; comma-separated list ok)."),
    coco_split: Optional[Path] = typer.Option(
        None, "--coco-split", help="ilsvrc: names of the classes that have COCO detection data, one per "
        "line (default for Darknet's 200 DET classes: derived from data/9k.tree, inet9k.map, coco9k.map)."),
    annotations: Optional[Path] = typer.Option(
        None, "--annotations", help="Folder of VOC XML (<image>.xml); keeps 'difficult' flags."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for map.json and PR-curve PNGs."),
    iou_thresh: float = typer.Option(
        0.5, "--iou-thresh", help="VOC matching IoU (matches need IoU above it)."),
    thresh: float = typer.Option(0.25, "--thresh", help="Score cut-off for the TP/FP/FN summary."),
    fmt: str = typer.Option("auto", "--format", help="Result format: auto, voc, coco, imagenet."),
    category_map: Optional[Path] = typer.Option(
        None, "--category-map", help="Darknet map= file: the COCO category id of each class in turn."),
    image_size: Optional[str] = typer.Option(
        None, "--image-size", help="WxH for label ground truth whose images are not on disk."),
    batch: int = typer.Option(8, "--batch", "-b", help="With a network: images per forward pass."),
    size: Optional[int] = typer.Option(None, "--size", "-s", help="With a network: input width and height."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="With a network: cpu, cuda, cuda:1 ..."),
    workers: int = typer.Option(2, "--workers", help="With a network: image-loading processes."),
    precision: str = precision_option(),
) -> None:
    """Score detections with VOC07 11-point, VOC area and COCO metrics in one table."""
    from darkpy.eval import evaluate
    from darkpy.eval.load import expand_paths, load_ground_truth, load_results
    from darkpy.eval.report import print_report, write_json, write_pr_curves

    if not results:
        if paths and len(paths) == 3:
            extra = [flag for flag, value in (("--gt", gt), ("--names", names), ("--format", fmt != "auto"),
                                              ("--category-map", category_map), ("--image-size", image_size))
                     if value]
            if extra:
                raise UsageError(f"{', '.join(extra)} only go with --results: with DATA CFG WEIGHTS "
                                 "the .data file names the valid list, names and result layout")
            report, note = score_network(Path(paths[0]), Path(paths[1]), Path(paths[2]), metric=metric,
                                         out=out, iou_thresh=iou_thresh, thresh=thresh,
                                         annotations=annotations, batch=batch, size=size, device=device,
                                         workers=workers, coco_split=coco_split, precision=precision)
            print_report(report)
            typer.echo(note)
            return
        if paths:
            raise UsageError("to score a network pass DATA CFG WEIGHTS (three files); "
                             "to score result files pass them with --results")
        raise UsageError("nothing to score: pass DATA CFG WEIGHTS, or result files with --results")
    if gt is None:
        raise UsageError("--gt is required (an image list or a COCO json)")
    if out is not None:
        from darkpy.fileio import refuse_overwrite

        refuse_overwrite([out, out / "map.json"], [gt, names, annotations, category_map]
                         + expand_paths(list(results) + list(paths or [])))
    truth = load_ground_truth(gt, names, annotations, _size(image_size))
    dets = load_results(expand_paths(list(results) + list(paths or [])), truth, fmt, category_map)
    split, rule = split_for(metric, truth.names, coco_split)
    report = evaluate(dets, truth, metric, iou_thresh=iou_thresh, thresh=thresh, coco_split=split,
                      split_note=rule)
    print_report(report)
    if out is not None:
        write_json(report, out / "map.json")
        written = write_pr_curves(report, out)
        typer.echo(f"wrote {out / 'map.json'} and {len(written)} PR-curve PNG(s) to {out}")


def score_network(data: Path, cfg: Path, weights: Path, *, metric: str = "all", out: Optional[Path] = None,
                  iou_thresh: float = 0.5, thresh: float = 0.25, annotations: Optional[Path] = None,
                  batch: int = 8, size: Optional[int] = None, device: Optional[str] = None, workers: int = 2,
                  coco_split: Optional[Path] = None, precision: str = "auto"):
    """Run `valid` into `out` (default: the .data file's results= folder) and score what it wrote.
    Returns the report and a one-line note on what was run and written."""
    from darkpy.detect.detector import DetectOptions, Detector
    from darkpy.eval import evaluate
    from darkpy.eval.groundtruth import find_label_files, gt_from_labels, gt_from_voc
    from darkpy.eval.load import load_results
    from darkpy.eval.report import write_json, write_pr_curves
    from darkpy.eval.results import coco_image_id
    from darkpy.eval.run import (
        category_ids_for, check_classes, class_map_for, run_detector, valid_setup, write_results)
    from darkpy.net.model import load_network

    setup = valid_setup(data)
    if annotations is None:  # a missing label file stops us before the network runs, not after
        find_label_files(setup.entries, setup.list_path)
    net = load_network(cfg, weights, size, device)
    cmap = class_map_for(setup, net)
    classes = check_classes(net, setup.names, setup.data.resolve("names"), cmap)
    names = setup.names[:classes]
    from darkpy.eval.results import voc_result_paths

    # class names become result file names (VOC, and the fallback when COCO ids collide): checked
    # before the detector runs
    voc_result_paths(names, out if out is not None else setup.results_dir, names_file=setup.data.resolve("names"))
    options = DetectOptions.valid(batch=batch, workers=workers, device=device, class_map=cmap)
    detector = Detector(inference_predictor(net, precision), options=options)
    result = run_detector(detector, setup.entries,
                          base=setup.list_path.parent)
    if not result.entries:
        raise UsageError("no image of the valid list could be read", file=setup.list_path)
    kind = setup.eval_type
    if kind == "coco" and len({coco_image_id(e) for e in result.entries}) != len(result.entries):
        typer.echo("note: COCO image ids from these file names collide; scoring through VOC result files",
                   err=True)
        kind = "voc"
    folder = out if out is not None else setup.results_dir
    from darkpy.fileio import refuse_overwrite

    refuse_overwrite([folder, folder / "map.json"], [data, cfg, weights, setup.list_path])
    cats = category_ids_for(setup, net)
    files = write_results(result, names, folder, kind, cats)
    if annotations is not None:
        truth = gt_from_voc(result.entries, annotations, names)
    else:
        truth = gt_from_labels(setup.list_path, names, sizes=result.sizes, entries=result.entries)
    cat_file = setup.map_file if cats is not None else None
    dets = load_results(files, truth, kind, cat_file, image_list=result.listed)
    split, rule = split_for(metric, truth.names, coco_split)
    report = evaluate(dets, truth, metric, iou_thresh=iou_thresh, thresh=thresh, coco_split=split,
                      split_note=rule)
    write_json(report, folder / "map.json")
    written = write_pr_curves(report, folder)
    skipped = f" ({len(result.skipped)} unreadable images skipped)" if result.skipped else ""
    note = (f"{len(result.entries)} images in {result.seconds:.1f} s{precision_note(detector)}{skipped}; result files, map.json and "
            f"{len(written)} PR-curve PNG(s) in {folder}")
    return report, note


def split_for(metric: str, names: list[str], split_file: Optional[Path]):
    """(flags, rule) of the ILSVRC split into classes with / without COCO data, or (None, "")."""
    from darkpy.eval.evaluate import parse_metrics

    if "ilsvrc" not in parse_metrics(metric):
        if split_file is not None:
            raise UsageError("--coco-split goes with --metric ilsvrc")
        return None, ""
    if split_file is not None:
        from darkpy.errors import DataError
        from darkpy.formats.datafile import read_names

        listed = [n.strip() for n in read_names(split_file) if n.strip()]
        unknown = [n for n in listed if n not in names]
        if unknown:
            raise DataError(f"{len(unknown)} name(s) are not classes of the evaluation, e.g. {unknown[0]!r}",
                            file=split_file)
        return [n in set(listed) for n in names], f"COCO data: the classes listed in {split_file}"
    from darkpy.eval.ilsvrc import default_coco_split

    found = default_coco_split(len(names))
    if found is None:
        typer.echo(f"note: no COCO split for {len(names)} classes (Darknet's DET map has 200); "
                   "pass --coco-split NAMES", err=True)
        return None, ""
    return found


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
