"""`darkpy recall`: Darknet's `detector recall` report over the `.data` file's valid list."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from darkpy.cli.engine import engine_option, load_for_engine
from darkpy.cli.precision import precision_note, precision_option


def recall_command(
    data: Path = typer.Argument(..., help="Darknet .data file (its valid= list, with label files)."),
    cfg: Path = typer.Argument(..., help="Network .cfg file."),
    weights: Path = typer.Argument(..., help="Network .weights file."),
    thresh: float = typer.Option(0.001, "--thresh", help="Objectness a box needs to count as a proposal."),
    iou_thresh: float = typer.Option(
        0.5, "--iou-thresh", help="An object is found when its best IoU is above this."),
    nms: float = typer.Option(0.4, "--nms", help="do_nms_obj IoU threshold (0 turns it off)."),
    letterbox: bool = typer.Option(
        False, "--letterbox/--stretch", help="Darknet stretches images for recall."),
    batch: int = typer.Option(8, "--batch", "-b", help="Images per forward pass."),
    size: Optional[int] = typer.Option(
        None, "--size", "-s", help="Network input width and height (default: the cfg's)."),
    device: Optional[str] = typer.Option(
        None, "--device", "-d", help="cpu, cuda, cuda:1 ... (default: CUDA when present)."),
    workers: int = typer.Option(2, "--workers", help="Image-loading processes (0: load in this process)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the final line, not one per image."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the totals to this JSON file."),
    precision: str = precision_option(),
    engine: str = engine_option(),
) -> None:
    """Per image: found, objects, proposals per image, average best IoU and recall (running totals)."""
    from darkpy.detect.numpy_engine import detector_for
    from darkpy.detect.options import DetectOptions
    from darkpy.eval.groundtruth import find_label_files
    from darkpy.eval.recall import recall
    from darkpy.eval.run import valid_setup
    from darkpy.fileio import write_text_atomic

    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(json_out, [data, cfg, weights], flag="--json")
    setup = valid_setup(data)
    refuse_overwrite(json_out, [setup.list_path], flag="--json")
    labels = find_label_files(setup.entries, setup.list_path)
    net, predictor = load_for_engine(cfg, weights, size, device, precision, engine, len(setup.entries),
                                     lambda text: typer.echo(text, err=True))
    options = DetectOptions.recall(thresh=thresh, nms=nms, letterbox=letterbox, batch=batch, workers=workers,
                                   device=device)
    detector = detector_for(predictor if predictor is not None else net, options)
    rep = recall(detector, setup.entries, labels,
                 base=setup.list_path.parent,
                 iou_thresh=iou_thresh, on_line=None if quiet else typer.echo)
    if quiet and rep.lines:
        typer.echo(rep.lines[-1])
    if rep.objects:
        typer.echo(f"recall {rep.recall:.4f} ({rep.found}/{rep.objects} objects at IoU > {iou_thresh:g}), "
                   f"average IoU {rep.avg_iou:.4f}, {rep.proposals_per_image:.2f} proposals per image "
                   f"over {rep.images} images{precision_note(detector)}")
    else:
        typer.echo(f"no labelled objects in {rep.images} images")
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(rep.to_dict(), indent=1) + "\n")


def register(app: typer.Typer) -> None:
    app.command("recall")(recall_command)
