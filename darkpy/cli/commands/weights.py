"""`darkpy weights list|download`: Darknet's published weights for the shipped cfgs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

group = typer.Typer(help="Darknet's published .weights files: which cfg each fits, and download them.",
                    no_args_is_help=True)


@group.command("list")
def list_weights() -> None:
    """Every published file for a shipped cfg: name, size in bytes (computed from the cfg), cfg, URL."""
    from darkpy.net.published import CATALOG, UNPUBLISHED, base_url, weights_dir

    url = base_url()
    rows = [("model", "file", "bytes", "cfg", "URL")]
    rows += [(p.name, p.file, f"{p.size():,}", p.cfg, url + p.url_path) for p in CATALOG]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:  # plain aligned columns: never wrapped, so URLs stay whole and greppable
        cells = [c.rjust(w) if i == 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        typer.echo("  ".join(cells).rstrip())
    typer.echo("")
    for p in CATALOG:
        typer.echo(f"{p.name}: {p.note}")
    for cfg, why in UNPUBLISHED.items():
        typer.echo(f"{cfg}: {why}")
    typer.echo(f"\ndownloads go to {weights_dir()} ($DARKPY_WEIGHTS); `darkpy weights download NAME`")


@group.command("download")
def download(
    name: str = typer.Argument(..., help="Model or file name from `darkpy weights list` (yolov2-voc, "
                               "darknet19_448.conv.23, ...)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write to (default: "
                                           "$DARKPY_WEIGHTS, else ~/.cache/darkpy/weights)."),
    url: Optional[str] = typer.Option(None, "--url", help="Base URL to fetch from (default: "
                                      "$DARKPY_WEIGHTS_URL, else https://pjreddie.com/media/files/)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress",
                                            help="Progress bar (default: when stderr is a terminal)."),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="Expected SHA-256 (64 hex digits) of the file: "
                                         "kept only if it matches."),
) -> None:
    """Download NAME, resuming a cut download (NAME.part), and keep it only if its header and size fit
    the cfg. `darkpy detect --model NAME IMAGE` then finds it."""
    from darkpy.errors import UsageError
    from darkpy.net.download import download as fetch
    from darkpy.net.published import CATALOG, base_url, find_published, weights_dir

    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise UsageError(f"--sha256 must be 64 hexadecimal digits, got {sha256!r}")
    entry = find_published(name)
    if entry is None:
        raise UsageError(f"unknown weights {name!r}; known: {', '.join(p.name for p in CATALOG)}")
    folder = out_dir if out_dir is not None else weights_dir()
    source = base_url(url) + entry.url_path
    done = fetch(entry, folder, url=source, progress=progress, sha256=sha256,
                 log=lambda s: typer.echo(f"darkpy: {s}", err=True))
    if done.already:
        typer.echo(f"{done.path} is already there ({done.size:,} bytes, fits {entry.cfg})")
        return
    resumed = f", resumed at {done.resumed_from:,}" if done.resumed_from else ""
    typer.echo(f"saved {done.path} ({done.size:,} bytes{resumed}; fits {entry.cfg})")
    if entry.names and entry.upto is None:
        typer.echo(f"run it: darkpy detect --model {entry.name} data/dog.jpg"
                   if "yolo" in entry.name else
                   f"run it: darkpy classifier predict cfg/imagenet1k.data {entry.cfg} {done.path} data/dog.jpg")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="weights")
