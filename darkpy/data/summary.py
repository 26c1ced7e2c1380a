"""Tables that `data check` and `data stats` print (rich)."""
from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from darkpy.data.check import ERRORS, WARNINGS, CheckReport, size_histogram
from darkpy.data.stats import BoxStats

SHOWN = 20  # problems listed in full; the rest are counted


def _class_table(boxes: np.ndarray, classes: int | None, names: list[str]) -> Table:
    counts = np.bincount(boxes[:, 0].astype(np.int64), minlength=classes or 0) if len(boxes) else \
        np.zeros(classes or 0, np.int64)
    table = Table(title="boxes per class")
    table.add_column("class", justify="right")
    table.add_column("name")
    table.add_column("boxes", justify="right")
    for i, n in enumerate(counts.tolist()):
        table.add_row(str(i), names[i] if i < len(names) else "", str(n))
    return table


def _size_table(boxes: np.ndarray) -> Table:
    table = Table(title="box size (sqrt of area, fraction of image)")
    table.add_column("size", justify="right")
    table.add_column("boxes", justify="right")
    table.add_column("")
    hist = size_histogram(boxes)
    top = max([n for _, n in hist] + [1])
    for label, n in hist:
        table.add_row(label, str(n), "#" * int(round(30 * n / top)))
    return table


def print_check(report: CheckReport, console: Console) -> None:
    lists = Table(title=f"data check: {report.target}")
    for column in ("list", "entries", "usable", "boxes", "class-only", "errors", "warnings"):
        lists.add_column(column, justify="left" if column == "list" else "right")
    for lc in report.lists:
        errors = len({p.line for p in lc.errors})
        lists.add_row(f"{lc.role}: {lc.path}", str(len(lc.entries)), str(int(lc.good.sum())),
                      str(len(lc.boxes)), str(lc.class_only), str(errors),
                      str(len(lc.problems) - len(lc.errors)))
    console.print(lists)
    boxes = np.concatenate([lc.boxes for lc in report.lists]) if report.lists else np.zeros((0, 5))
    console.print(_class_table(boxes, report.classes, report.names))
    console.print(_size_table(boxes))
    counts = report.counts()
    if counts:
        kinds = Table(title="problems")
        kinds.add_column("kind")
        kinds.add_column("count", justify="right")
        kinds.add_column("meaning")
        for kind, n in sorted(counts.items(), key=lambda kv: (kv[0] not in ERRORS, kv[0])):
            kinds.add_row(kind, str(n), ERRORS.get(kind) or WARNINGS.get(kind, ""))
        console.print(kinds)
    errors = report.errors
    for p in errors[:SHOWN]:
        console.print(f"[red]{p.kind}[/] " + escape(f"{p.list_file.name}:{p.line}: {p}"), markup=True)
    if len(errors) > SHOWN:
        console.print(f"... and {len(errors) - SHOWN} more errors")
    warnings = [p for p in report.problems if not p.is_error]
    for p in warnings[:SHOWN if not errors else 0]:
        console.print(f"[yellow]{p.kind}[/] " + escape(f"{p.list_file.name}:{p.line}: {p}"), markup=True)
    if errors:
        console.print(f"[bold red]{len(errors)} errors[/] (--fix writes cleaned lists without them)",
                      markup=True)
    else:
        console.print("[bold green]ok[/]" + (f" ({len(warnings)} warnings)" if warnings else ""), markup=True)


def print_stats(stats: BoxStats, console: Console) -> None:
    console.print(f"{stats.images} images, {len(stats.boxes)} boxes"
                  + (f", {stats.class_only} classification-only lines (no box)" if stats.class_only else ""))
    console.print(_class_table(stats.boxes, stats.classes, stats.names))
    console.print(_size_table(stats.boxes))
