"""`darkpy valid`: run a detector over the `.data` file's valid list and write Darknet's result files."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from darkpy.cli.engine import engine_option, load_for_engine
from darkpy.cli.precision import precision_note, precision_option


def valid_command(
    data: Path = typer.Argument(
        ..., help="Darknet .data file (valid=, names=, and optionally eval=, results=, map=)."),
    cfg: Path = typer.Argument(..., help="Network .cfg file."),
    weights: Path = typer.Argument(..., help="Network .weights file."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the result files (default: the "
                                       ".data file's results=, else results/)."),
    batch: int = typer.Option(8, "--batch", "-b", help="Images per forward pass."),
    size: Optional[int] = typer.Option(
        None, "--size", "-s", help="Network input width and height (default: the cfg's)."),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="voc, coco or imagenet (default: the .data file's eval=, else voc)."),
    prefix: Optional[str] = typer.Option(
        None, "--prefix", help="Result file name (prefix for VOC): Darknet's comp4_det_test_, coco_results "
        "or imagenet-detection by default."),
    thresh: float = typer.Option(0.005, "--thresh", help="Lowest class probability kept."),
    nms: float = typer.Option(0.45, "--nms", help="do_nms_sort IoU threshold (0 turns NMS off)."),
    hier: float = typer.Option(0.5, "--hier", help="WordTree walk threshold (tree networks)."),
    device: Optional[str] = typer.Option(
        None, "--device", "-d", help="cpu, cuda, cuda:1 ... (default: CUDA when present)."),
    workers: int = typer.Option(2, "--workers", help="Image-loading processes (0: load in this process)."),
    precision: str = precision_option(),
    engine: str = engine_option(),
) -> None:
    """Write comp4_det_test_<class>.txt / coco_results.json / imagenet-detection.txt for the valid list."""
    from darkpy.detect.options import DetectOptions
    from darkpy.eval.run import valid_setup
    from darkpy.eval.score import score_valid
    from darkpy.fileio import refuse_overwrite

    setup = valid_setup(data, fmt)
    folder = out if out is not None else setup.results_dir
    refuse_overwrite(folder, [data, cfg, weights, setup.list_path])
    net, predictor = load_for_engine(cfg, weights, size, device, precision, engine, len(setup.entries),
                                     lambda text: typer.echo(text, err=True))
    options = DetectOptions.valid(thresh=thresh, hier_thresh=hier, nms=nms, batch=batch, workers=workers,
                                  device=device)
    scored = score_valid(setup, net, options, predictor=predictor, out=folder,
                         prefix=prefix, all_names=True)
    result, written = scored.run, scored.files
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    n = len(result.entries)
    typer.echo(f"{n} images{skipped}, {len(result.dets)} detections in {result.seconds:.1f} s "
               f"({n / max(result.seconds, 1e-9):.1f} img/s){precision_note(scored.detector)}")
    if len(written) == 1:
        typer.echo(f"wrote {written[0]}")
    else:
        typer.echo(f"wrote {len(written)} {setup.eval_type.upper()} result files to {folder}")


def register(app: typer.Typer) -> None:
    app.command("valid")(valid_command)
