"""`darkpy summary`: the network's layer table, like the one Darknet prints when it loads a cfg."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def summary(
    cfg: Path = typer.Argument(..., help="Darknet .cfg file."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Also load this .weights file and report it."),
    size: Optional[int] = typer.Option(None, "--size", "-s", help="Input width and height (default: the cfg's)."),
) -> None:
    """Print the layer table (type, filters, size/stride, input, output, BFLOPs) with totals."""
    from rich.console import Console

    from darkpy.net.spec import read_spec
    from darkpy.net.summary import render_summary

    spec = read_spec(cfg, size)
    console = Console() if Console().is_terminal else Console(width=140)
    console.print(render_summary(spec, title=str(cfg)))
    if weights is not None:
        from darkpy.net.weights import plan_weights

        console.print(str(plan_weights(spec.layers, weights, mmap=True).report()))


def register(app: typer.Typer) -> None:
    app.command("summary")(summary)
