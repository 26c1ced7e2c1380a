"""`darkpy kmeans`: anchors from the training labels (YOLOv2 dimension clusters, distance 1 - IoU)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def kmeans(
    k: int = typer.Option(5, "--k", "-k", help="Number of anchors."),
    data: Optional[Path] = typer.Option(None, "--data", help=".data file; its train= list is read."),
    labels: Optional[Path] = typer.Option(
        None, "--labels", help="Folder of label .txt files (searched recursively)."),
    image_list: Optional[Path] = typer.Option(
        None, "--list", help="Image list; labels found by Darknet's rule."),
    cfg: Optional[Path] = typer.Option(
        None, "--cfg",
        help="Cfg whose \\[net] size and layer type (\\[region]: grid, \\[yolo]: pixels) set the output."),
    size: Optional[int] = typer.Option(
        None, "--size", help="Network input width and height (default: the cfg's \\[net], else 416)."),
    width: Optional[int] = typer.Option(None, "--width", help="Network input width (overrides --size)."),
    height: Optional[int] = typer.Option(None, "--height", help="Network input height (overrides --size)."),
    stride: Optional[float] = typer.Option(
        None, "--stride",
        help="Pixels per grid cell of a \\[region] layer (default: the cfg's own, input size / grid; else 32)."),
    units: Optional[str] = typer.Option(
        None, "--units", help="grid or pixels (default: from --cfg, else grid)."),
    restarts: int = typer.Option(10, "--restarts", help="k-means++ restarts; the best average IoU wins."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    median: bool = typer.Option(
        False, "--median", help="Centroid = weighted median of members (default: mean)."),
    max_iter: int = typer.Option(
        300, "--max-iter", help="Stop a run after this many rounds even if boxes still move."),
    sweep: Optional[str] = typer.Option(
        None, "--sweep", help="Range of k, e.g. 1..15: avg IoU per k, a chart and its knee."),
    plot: Path = typer.Option(
        Path("kmeans-sweep.png"), "--plot", help="Where --sweep writes its k vs avg IoU chart."),
    compare: Optional[str] = typer.Option(
        None, "--compare", help="Anchors 'w,h, w,h, ...' (output units) to score on the same boxes."),
    write_cfg: Optional[Path] = typer.Option(
        None, "--write-cfg", help="Rewrite anchors (and num, mask, filters) of this cfg in place."),
    no_cache: bool = typer.Option(
        False, "--no-cache",
        help="Read every label file again instead of taking unchanged ones from the label cache."),
) -> None:
    """Cluster the (w, h) of every training box with k-means, distance 1 - IoU, and print anchors."""
    from darkpy.anchors.command import run_kmeans

    run_kmeans(k=k, data=data, labels=labels, image_list=image_list, cfg=cfg, size=size, width=width,
               height=height, stride=stride, units=units, restarts=restarts, seed=seed, median=median,
               max_iter=max_iter, sweep=sweep, plot=plot, compare=compare, write_cfg=write_cfg,
               no_cache=no_cache)


def register(app: typer.Typer) -> None:
    app.command("kmeans")(kmeans)
