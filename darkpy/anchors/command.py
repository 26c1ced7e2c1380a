"""What `darkpy kmeans` does and prints, without typer.

`darkpy.cli.commands.kmeans` declares the options (help, types, defaults) and calls `run_kmeans`;
`python -m darkpy kmeans ...` with plain options calls it directly (`darkpy.__main__`), so the
whole command needs neither typer nor anything heavier than numpy and rich: a k-means over a
cached label set is over before typer would have finished importing.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

from darkpy.anchors.boxset import load_boxes
from darkpy.anchors.cfgedit import check_anchor_cfg, write_anchors
from darkpy.anchors.kmeans import avg_iou, kmeans_anchors
from darkpy.anchors.kmeans import sweep as run_sweep
from darkpy.anchors.plainout import Printer
from darkpy.anchors.units import anchor_frame, parse_anchor_list
from darkpy.errors import UsageError
from darkpy.formats.labelcache import LabelCache


def run_kmeans(
    k: int = 5,
    data: Optional[Path] = None,
    labels: Optional[Path] = None,
    image_list: Optional[Path] = None,
    cfg: Optional[Path] = None,
    size: Optional[int] = None,
    width: Optional[int] = None,
    height: Optional[int] = None,
    stride: Optional[float] = None,
    units: Optional[str] = None,
    restarts: int = 10,
    seed: int = 0,
    median: bool = False,
    max_iter: int = 300,
    sweep: Optional[str] = None,
    plot: Path = Path("kmeans-sweep.png"),
    compare: Optional[str] = None,
    write_cfg: Optional[Path] = None,
    no_cache: bool = False,
) -> None:
    """The kmeans command: anchors printed on stdout, notes and progress on stderr."""
    console = Printer(sys.stdout, 120, _stdout_console)
    err = Printer(sys.stderr, None, _stderr_console)

    # where the output units and the network size come from
    if units is not None and units not in ("grid", "pixels"):
        raise UsageError(f"--units must be grid or pixels, got {units!r}")
    frame = anchor_frame(cfg or write_cfg, units, width or size, height or size, stride)
    checks = (("width", frame.width), ("height", frame.height), ("stride", frame.stride), ("restarts", restarts),
              ("max-iter", max_iter))
    for name, value in checks:
        if value <= 0:
            raise UsageError(f"--{name} must be positive, got {value}")
    ks = parse_range(sweep) if sweep else [k]
    compare_norm = frame.normalised(parse_anchor_list(compare)) if compare else None
    if write_cfg is not None:  # fail before the clustering, not after
        check_anchor_cfg(write_cfg, max(ks), width=width or size, height=height or size, stride=frame.stride)

    boxes = load_boxes(data=data, image_list=image_list, labels=labels, progress=err.is_terminal,
                       cache=None if no_cache else LabelCache())
    err.print(_box_notes(boxes))

    def cluster(step):
        if sweep:
            found = run_sweep(boxes.wh, ks, restarts=restarts, seed=seed, median=median,
                              max_iter=max_iter, progress=step)
            return found, found.knee_result
        return None, kmeans_anchors(boxes.wh, k, restarts=restarts, seed=seed, median=median,
                                    max_iter=max_iter, progress=step)

    if err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err.rich, transient=True) as bar:
            task = bar.add_task("k-means restarts", total=restarts * len(ks))
            result_sweep, result = cluster(lambda n: bar.advance(task, n))
    else:
        result_sweep, result = cluster(None)

    if result_sweep is not None:
        _print_sweep(console, result_sweep, plot, len(boxes))
    line = _print_anchors(console, result, frame, boxes, restarts, seed, median, compare_norm)
    _echo(f"anchors = {line}")

    if write_cfg is not None:
        changes = write_anchors(write_cfg, result.anchors, width=width or size, height=height or size,
                                stride=frame.stride)
        # plain lines, never wrapped: the cfg lines are for copying and grepping
        _echo(f"wrote {write_cfg}: {len(changes)} line{'s' if len(changes) != 1 else ''} changed")
        for change in changes:
            _echo(f"  {change}")


def _stdout_console():
    from rich.console import Console

    return Console() if Console().is_terminal else Console(width=120)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _echo(text: str) -> None:
    """One line on stdout, flushed (as `typer.echo` writes it)."""
    print(text, flush=True)


def _box_notes(boxes) -> str:
    notes = [f"{len(boxes):,} boxes from {boxes.files:,} label files ({boxes.source})"]
    if boxes.missing:
        notes.append(f"{boxes.missing:,} listed images have no label file")
    if boxes.zero_size:
        notes.append(f"{boxes.zero_size:,} zero-size boxes ignored")
    if boxes.class_only:
        notes.append(f"{boxes.class_only:,} classification-only lines (no box) skipped")
    return "; ".join(notes)


def _print_sweep(console: Printer, result_sweep, plot: Path, n_boxes: int) -> None:
    console.table(["k", "avg IoU", ""],
                  [[str(kk), f"{iou * 100:.2f}%", "knee" if kk == result_sweep.knee else ""]
                   for kk, iou in zip(result_sweep.ks, result_sweep.ious)])
    _plot(result_sweep, plot, n_boxes)
    console.print(f"knee at k={result_sweep.knee} (farthest point above the chord); chart: {plot}")


def _print_anchors(console: Printer, result, frame, boxes, restarts: int, seed: int, median: bool,
                   compare_norm) -> str:
    """The anchors table, the average IoU of the anchors as printed (and of --compare's); returns
    the cfg line."""
    line, printed = frame.cfg_line(result.anchors)
    printed_iou = avg_iou(boxes.wh, frame.normalised(printed))
    console.print(f"k={result.k} anchors in {frame.units} units ({frame.describe()}), smallest first")
    total = max(1, int(result.members.sum()))
    rows = []
    for i, ((w, h), n) in enumerate(zip(printed, result.members)):
        fmt = "{:.0f}" if frame.units == "pixels" else "{:.4f}"
        rows.append([str(i), fmt.format(w), fmt.format(h), f"{int(n):,}", f"{n / total * 100:.1f}%"])
    console.table(["#", "width", "height", "boxes", "share"], rows)
    unconverged = sum(1 for c in result.converged if not c)
    console.print(
        f"avg IoU {printed_iou * 100:.2f}% (best of {result.restarts_run} restarts"
        + (" on a sample of the shapes, then refined on all" if result.sample_ious else "")
        + (f" of up to {restarts}: the best was found again" if result.restarts_run < restarts else "")
        + f", seed {seed}, "
        f"{'median' if median else 'mean'} centroids"
        + (f"; {unconverged} runs stopped at --max-iter" if unconverged else "") + ")"
    )
    if compare_norm is not None:
        theirs = avg_iou(boxes.wh, compare_norm)
        console.print(
            f"compare: {len(compare_norm)} given anchors score avg IoU {theirs * 100:.2f}% "
            f"on the same boxes ({(printed_iou - theirs) * 100:+.2f} points for the clusters)"
        )
    return line


def parse_range(text: str) -> list[int]:
    """'1..15', '1-15', '3,5,9' or '5'."""
    t = text.replace(" ", "")
    m = re.fullmatch(r"(\d+)(?:\.\.|-)(\d+)", t)
    try:
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo < 1 or hi < lo:
                raise ValueError
            return list(range(lo, hi + 1))
        ks = sorted({int(v) for v in t.split(",") if v})
        if not ks or ks[0] < 1:
            raise ValueError
        return ks
    except ValueError:
        raise UsageError(f"--sweep wants a range like 1..15 (or a list like 3,5,9), got {text!r}") from None


def _plot(result, path: Path, n_boxes: int) -> None:
    from darkpy.charts import Chart

    chart = Chart(f"Dimension clusters: avg IoU vs k ({n_boxes:,} boxes)", "k (number of anchors)", "avg IoU")
    chart.add(result.ks, result.ious, "k-means, 1 - IoU")
    chart.add(result.ks, result.ious, points=True)
    knee_iou = result.ious[result.ks.index(result.knee)]
    chart.mark(result.knee, knee_iou, f"knee k={result.knee}")
    chart.save(path)
