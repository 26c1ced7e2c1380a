"""Showing an `EvalReport`: one rich table per run, a JSON with every number, PR-curve charts."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from darkpy.charts import Chart
from darkpy.eval.coco import STAT_NAMES
from darkpy.eval.evaluate import EvalReport
from darkpy.fileio import atomic_write, write_text_atomic

COCO_LINES = [  # pycocotools' summary wording, so numbers can be compared line by line
    ("Average Precision", "AP", "0.50:0.95", "all", 100), ("Average Precision", "AP", "0.50", "all", 100),
    ("Average Precision", "AP", "0.75", "all", 100), ("Average Precision", "AP", "0.50:0.95", "small", 100),
    ("Average Precision", "AP", "0.50:0.95", "medium", 100), ("Average Precision", "AP", "0.50:0.95", "large", 100),
    ("Average Recall", "AR", "0.50:0.95", "all", 1), ("Average Recall", "AR", "0.50:0.95", "all", 10),
    ("Average Recall", "AR", "0.50:0.95", "all", 100), ("Average Recall", "AR", "0.50:0.95", "small", 100),
    ("Average Recall", "AR", "0.50:0.95", "medium", 100), ("Average Recall", "AR", "0.50:0.95", "large", 100),
]


def _f(v: float | None, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(report: EvalReport):
    """One row per class and a mean row; columns only for the metrics asked for."""
    from rich.table import Table

    m = report.metrics
    t = Table(title=f"mAP over {report.images} images (VOC IoU > {report.iou_thresh:g}; "
                    f"TP/FP/FN at score >= {report.thresh:g})", title_justify="left")
    cols = ["class", "GT", "dets"]
    if "voc07" in m:
        cols.append("AP07")
    if "voc" in m:
        cols.append("AP")
    if "coco" in m:
        cols += ["AP.5:.95", "AP50", "AP75"]
    if "ilsvrc" in m:
        cols.append("ILSVRC")
    cols += ["TP", "FP", "FN", "P", "R", "F1", "IoU"]
    for c in cols:
        t.add_column(c, justify="left" if c == "class" else "right")

    def row(name, gt, dets, ap07, ap, coco, tp, fp, fn, p, r, f1, iou, style=None, ilsvrc=None):
        cells = [name, str(gt), str(dets)]
        if "voc07" in m:
            cells.append(_f(ap07))
        if "voc" in m:
            cells.append(_f(ap))
        if "coco" in m:
            cells += [_f(v) for v in coco]
        if "ilsvrc" in m:
            cells.append(_f(ilsvrc))
        cells += [str(tp), str(fp), str(fn), _f(p), _f(r), _f(f1), _f(iou)]
        t.add_row(*cells, style=style)

    for c in report.classes:
        row(c.name, c.positives, c.detections, c.ap07, c.ap, (c.coco_ap, c.coco_ap50, c.coco_ap75),
            c.tp, c.fp, c.fn, c.precision, c.recall, c.f1, c.avg_iou, ilsvrc=c.ilsvrc_ap)
    tot = report.totals()
    coco = report.coco.stats if report.coco is not None else {}
    t.add_section()
    row("mean / all", sum(c.positives for c in report.classes), sum(c.detections for c in report.classes),
        report.map07, report.map,
        tuple(None if coco.get(k, -1) < 0 else coco[k] for k in ("AP", "AP50", "AP75")),
        tot["tp"], tot["fp"], tot["fn"], tot["precision"], tot["recall"], tot["f1"], tot["avg_iou"],
        style="bold", ilsvrc=report.map_ilsvrc)
    return t


def coco_lines(report: EvalReport) -> list[str]:
    if report.coco is None:
        return []
    out = []
    for (title, short, iou, area, md), key in zip(COCO_LINES, STAT_NAMES):
        out.append(f" {title:<18} ({short}) @[ IoU={iou:<9} | area={area:>6} | maxDets={md:>3} ] = "
                   f"{report.coco.stats[key]:.3f}")
    return out


def print_report(report: EvalReport, console=None) -> None:
    from rich.console import Console

    console = console or Console(highlight=False, width=None if _is_tty() else 160)
    console.print(table(report))
    for line in coco_lines(report):
        console.print(line, markup=False)
    parts = []
    if report.map07 is not None:
        parts.append(f"mAP VOC07 11-point = {report.map07:.4f}")
    if report.map is not None:
        parts.append(f"mAP VOC area = {report.map:.4f}")
    if report.coco is not None:
        parts.append(f"COCO AP = {report.coco.stats['AP']:.4f}")
    if report.map_ilsvrc is not None:
        parts.append(f"mAP ILSVRC = {report.map_ilsvrc:.4f}")
    if parts:
        console.print("  ".join(parts), markup=False)
    for line in ilsvrc_split_lines(report):
        console.print(line, markup=False)


def ilsvrc_split_lines(report: EvalReport) -> list[str]:
    """The YOLO9000 paper's split: ILSVRC mAP over classes with and without COCO detection data."""
    split = report.ilsvrc_split()
    if split is None:
        return []
    out = []
    for key, label in (("with_coco", "with COCO data"), ("without_coco", "without COCO data")):
        s = split[key]
        out.append(f"mAP ILSVRC, {s['classes']} classes {label} ({s['scored']} with ground truth) = "
                   f"{_f(s['mAP'])}")
    if report.split_note:
        out.append(f"  ({report.split_note})")
    return out


def _is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


def _clean(value):
    """JSON without NaN: numpy scalars become floats, missing numbers null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_json(report: EvalReport, path: str | Path) -> Path:
    return write_text_atomic(path, json.dumps(_clean(report.to_dict()), indent=1) + "\n")


def write_pr_curves(report: EvalReport, folder: str | Path, columns: int = 4) -> list[Path]:
    """One PR chart per class with positives (`pr_<class>.png`) and all of them tiled in `pr_curves.png`."""
    import cv2

    folder = Path(folder)
    written, tiles = [], []
    for c in report.classes:
        if c.curve is None:
            continue
        recall, precision = c.curve
        label = " ".join(p for p in (f"AP07 {c.ap07:.3f}" if c.ap07 is not None else "",
                                      f"AP {c.ap:.3f}" if c.ap is not None else "") if p)
        chart = Chart(f"{c.name}  {label}", "recall", "precision", xlim=(0, 1), ylim=(0, 1), size=(480, 340))
        chart.add(np.concatenate(([0.0], recall)), np.concatenate(([precision[0] if len(precision) else 0.0], precision)))
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c.name)
        written.append(chart.save(folder / f"pr_{safe}.png"))
        tiles.append(chart.render())
    if tiles:
        columns = min(columns, len(tiles))
        blank = np.full_like(tiles[0], 255)
        tiles += [blank] * (-len(tiles) % columns)
        grid = np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])
        path = folder / "pr_curves.png"
        ok, buf = cv2.imencode(".png", grid)
        with atomic_write(path, "wb") as fh:
            fh.write(buf.tobytes())
        written.append(path)
    return written
