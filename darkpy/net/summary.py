"""Darknet's layer table (index, type, filters, size/stride, input, output, BFLOPs) with totals."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from darkpy.net.spec import NetworkSpec

if TYPE_CHECKING:
    from rich.table import Table


@dataclass
class SummaryRow:
    index: int
    type: str
    filters: str
    size: str
    input: tuple[int, int, int]
    output: tuple[int, int, int]
    bflops: float
    params: int
    extra: str


def summarize(spec: NetworkSpec) -> list[SummaryRow]:
    """One row per layer spec (a torch `Network`'s `.spec` too), without building the network."""
    rows = []
    for layer in spec.layers:
        d = layer.describe()
        rows.append(SummaryRow(layer.index, d["type"], d["filters"], d["size"], layer.in_shape, layer.out_shape,
                               layer.bflops, layer.num_weight_floats(), d["extra"]))
    return rows


def _whc(shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"{w:>4} x {h:>4} x {c:>4}"


def render_summary(spec: NetworkSpec, title: str = "") -> "Table":
    from rich import box
    from rich.table import Table

    rows = summarize(spec)
    table = Table(title=title or None, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for name, justify in (("layer", "right"), ("type", "left"), ("filters", "right"), ("size", "left"),
                          ("input", "right"), ("output", "right"), ("BFLOPs", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.add_column("notes", justify="left", overflow="fold")
    for r in rows:
        table.add_row(str(r.index), r.type, r.filters, r.size, _whc(r.input), _whc(r.output),
                      f"{r.bflops:.3f}" if r.bflops else "", r.extra)
    total = sum(r.bflops for r in rows)
    params = sum(r.params for r in rows)
    table.add_section()
    table.add_row("", "total", "", "", _whc(spec.input_shape), _whc(spec.layers[spec.output_index].out_shape), f"{total:.3f}",
                  f"{params:,} params, {params * 4 / 1e6:.1f} MB")
    return table
