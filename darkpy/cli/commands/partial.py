"""`darkpy partial`: keep the first N layers of a weights file (e.g. darknet19_448.conv.23)."""
from __future__ import annotations

from pathlib import Path

import typer


def partial(
    cfg: Path = typer.Argument(..., help="The cfg the weights belong to."),
    weights: Path = typer.Argument(..., help="Full (or longer) .weights file."),
    out: Path = typer.Argument(..., help="Where to write the first N layers."),
    n: int = typer.Argument(..., help="Number of leading layers to keep (layers 0..N-1)."),
    keep_seen: bool = typer.Option(False, "--keep-seen",
                                   help="Keep the images-seen counter (Darknet resets it to 0)."),
) -> None:
    """Write the weights of layers 0..N-1 (a Darknet 0.2 file with seen=0, as Darknet's partial)."""
    from rich.console import Console

    from darkpy.net.partial import write_partial

    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(out, [cfg, weights], flag="OUT")
    report = write_partial(cfg, weights, out, n, keep_seen=keep_seen)
    Console(highlight=False, soft_wrap=True).print(f"wrote {report}")


def register(app: typer.Typer) -> None:
    app.command("partial")(partial)
