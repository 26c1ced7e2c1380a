"""`darkpy valid`: run a detector over the `.data` file's valid list and write Darknet's result files."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from darkpy.cli.precision import inference_predictor, precision_note, precision_option


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
) -> None:
    """Write comp4_det_test_<class>.txt / coco_results.json / imagenet-detection.txt for the valid list."""
    from darkpy.detect.detector import DetectOptions, Detector
    from darkpy.eval.run import (
        category_ids_for, check_classes, class_map_for, run_detector, valid_setup, write_results)
    from darkpy.net.model import load_network

    setup = valid_setup(data, fmt)
    net = load_network(cfg, weights, size, device)
    cmap = class_map_for(setup, net)
    check_classes(net, setup.names, setup.data.resolve("names"), cmap)
    folder = out if out is not None else setup.results_dir
    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(folder, [data, cfg, weights, setup.list_path])
    if setup.eval_type == "voc":  # class names become file names: checked before the detector runs
        from darkpy.eval.results import VOC_PREFIX, voc_result_paths

        voc_result_paths(setup.names, folder, prefix or VOC_PREFIX, setup.data.resolve("names"))
    options = DetectOptions.valid(thresh=thresh, hier_thresh=hier, nms=nms, batch=batch, workers=workers,
                                  device=device, class_map=cmap)
    detector = Detector(inference_predictor(net, precision), options=options)
    result = run_detector(detector, setup.entries,
                          base=setup.list_path.parent)
    cats = category_ids_for(setup, net)
    written = write_results(result, setup.names, folder, setup.eval_type, cats, prefix)
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    n = len(result.entries)
    typer.echo(f"{n} images{skipped}, {len(result.dets)} detections in {result.seconds:.1f} s "
               f"({n / max(result.seconds, 1e-9):.1f} img/s){precision_note(detector)}")
    if len(written) == 1:
        typer.echo(f"wrote {written[0]}")
    else:
        typer.echo(f"wrote {len(written)} {setup.eval_type.upper()} result files to {folder}")


def register(app: typer.Typer) -> None:
    app.command("valid")(valid_command)
