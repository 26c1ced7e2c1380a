"""`darkpy map`: score detections (result files today, a network later) against ground truth."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

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
        None, metavar="RESULTS", help="More result files (a shell glob after --results lands here).",
        show_default=False),
    results: Optional[List[str]] = typer.Option(
        None, "--results", "-r", help="Result files: comp4_det_test_<class>.txt, coco_results.json or an "
        "ImageNet .txt; a folder or a quoted glob works too. Repeatable."),
    gt: Optional[Path] = typer.Option(None, "--gt", help="Image list (with labels or --annotations) or a COCO json."),
    names: Optional[Path] = typer.Option(None, "--names", help="Class names, one per line (needed with a list)."),
    metric: str = typer.Option("all", "--metric", "-m", help="voc07, voc, coco or all (comma-separated list ok)."),
    annotations: Optional[Path] = typer.Option(
        None, "--annotations", help="Folder of VOC XML (<image>.xml); keeps 'difficult' flags."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for map.json and PR-curve PNGs."),
    iou_thresh: float = typer.Option(0.5, "--iou-thresh", help="VOC matching IoU (matches need IoU above it)."),
    thresh: float = typer.Option(0.25, "--thresh", help="Score cut-off for the TP/FP/FN summary."),
    fmt: str = typer.Option("auto", "--format", help="Result format: auto, voc, coco, imagenet."),
    category_map: Optional[Path] = typer.Option(
        None, "--category-map", help="Darknet map= file: the COCO category id of each class in turn."),
    image_size: Optional[str] = typer.Option(
        None, "--image-size", help="WxH for label ground truth whose images are not on disk."),
) -> None:
    """Score detections with VOC07 11-point, VOC area and COCO metrics in one table."""
    from darkpy.eval import evaluate
    from darkpy.eval.load import expand_paths, load_ground_truth, load_results
    from darkpy.eval.report import print_report, write_json, write_pr_curves

    if not results:
        if paths:
            raise UsageError("scoring a network (darkpy map DATA CFG WEIGHTS) is not available yet; "
                             "pass result files with --results")
        raise UsageError("nothing to score: pass result files with --results")
    if gt is None:
        raise UsageError("--gt is required (an image list or a COCO json)")
    truth = load_ground_truth(gt, names, annotations, _size(image_size))
    dets = load_results(expand_paths(list(results) + list(paths or [])), truth, fmt, category_map)
    report = evaluate(dets, truth, metric, iou_thresh=iou_thresh, thresh=thresh)
    print_report(report)
    if out is not None:
        write_json(report, out / "map.json")
        written = write_pr_curves(report, out)
        typer.echo(f"wrote {out / 'map.json'} and {len(written)} PR-curve PNG(s) to {out}")


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
