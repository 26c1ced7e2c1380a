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

from darkpy.cli.engine import engine_option, load_for_engine
from darkpy.cli.precision import precision_note, precision_option
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
    engine: str = engine_option(),
) -> None:
    """Score detections with VOC07 11-point, VOC area and COCO metrics in one table."""
    from darkpy.eval import evaluate
    from darkpy.eval.load import expand_paths, load_ground_truth, load_results
    from darkpy.eval.report import print_report, write_json, write_pr_curves
    from darkpy.eval.score import coco_split_for

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
                                         workers=workers, coco_split=coco_split, precision=precision,
                                         engine=engine)
            print_report(report)
            typer.echo(note)
            return
        if paths:
            raise UsageError("to score a network pass DATA CFG WEIGHTS (three files); "
                             "to score result files pass them with --results")
        raise UsageError("nothing to score: pass DATA CFG WEIGHTS, or result files with --results")
    if gt is None:
        raise UsageError("--gt is required (an image list or a COCO json)")
    if names is None and gt.suffix.lower() != ".json":
        raise UsageError("--names is needed with an image list as --gt")
    if out is not None:
        from darkpy.fileio import refuse_overwrite

        refuse_overwrite([out, out / "map.json"], [gt, names, annotations, category_map]
                         + expand_paths(list(results) + list(paths or [])))
    truth = load_ground_truth(gt, names, annotations, _size(image_size))
    dets = load_results(expand_paths(list(results) + list(paths or [])), truth, fmt, category_map)
    _split_needs_ilsvrc(metric, coco_split)
    split, rule = coco_split_for(metric, truth.names, coco_split, lambda text: typer.echo(text, err=True))
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
                  coco_split: Optional[Path] = None, precision: str = "auto", engine: str = "torch"):
    """Run `valid` into `out` (default: the .data file's results= folder) and score what it wrote.
    `engine`: auto, torch or numpy (`darkpy.cli.engine.load_for_engine`). Returns the report and a
    one-line note on what was run and written."""
    from darkpy.detect.options import DetectOptions
    from darkpy.eval.report import write_json, write_pr_curves
    from darkpy.eval.run import valid_setup
    from darkpy.eval.score import score_valid
    from darkpy.fileio import refuse_overwrite

    _split_needs_ilsvrc(metric, coco_split)
    setup = valid_setup(data)
    folder = out if out is not None else setup.results_dir
    refuse_overwrite([folder, folder / "map.json"], [data, cfg, weights, setup.list_path])
    net, predictor = load_for_engine(cfg, weights, size, device, precision, engine, len(setup.entries),
                                     lambda text: typer.echo(text, err=True))
    scored = score_valid(setup, net, DetectOptions.valid(batch=batch, workers=workers, device=device),
                         predictor=predictor, out=folder, score=True,
                         annotations=annotations, metric=metric, iou_thresh=iou_thresh, thresh=thresh,
                         coco_split=coco_split, on_note=lambda text: typer.echo(text, err=True))
    write_json(scored.report, folder / "map.json")
    written = write_pr_curves(scored.report, folder)
    result = scored.run
    skipped = f" ({len(result.skipped)} unreadable images skipped)" if result.skipped else ""
    note = (f"{len(result.entries)} images in {result.seconds:.1f} s{precision_note(scored.detector)}{skipped}; "
            f"result files, map.json and {len(written)} PR-curve PNG(s) in {folder}")
    return scored.report, note


def _split_needs_ilsvrc(metric: str, coco_split: Optional[Path]) -> None:
    from darkpy.eval.evaluate import parse_metrics

    if coco_split is not None and "ilsvrc" not in parse_metrics(metric):
        raise UsageError("--coco-split goes with --metric ilsvrc")


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
