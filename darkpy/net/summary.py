"""Darknet's layer table (index, type, filters, size/stride, input, output, BFLOPs) with totals."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from darkpy.net.model import Network

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


def summarize(net: Network) -> list[SummaryRow]:
    rows = []
    for layer in net.layers:
        d = layer.describe()
        params = sum(p.numel() for p in layer.parameters()) + sum(
            b.numel() for n, b in layer.named_buffers() if n.startswith("rolling"))
        rows.append(SummaryRow(layer.index, d["type"], d["filters"], d["size"], layer.in_shape, layer.out_shape,
                               layer.bflops, params, d["extra"]))
    return rows


def _whc(shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"{w:>4} x {h:>4} x {c:>4}"


def render_summary(net: Network, title: str = "") -> "Table":
    from rich import box
    from rich.table import Table

    rows = summarize(net)
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
    table.add_row("", "total", "", "", _whc(net.input_shape), _whc(net.output_layer.out_shape), f"{total:.3f}",
                  f"{params:,} params, {params * 4 / 1e6:.1f} MB")
    return table
