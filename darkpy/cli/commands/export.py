"""`darkpy export FORMAT ...`: a command group, one subcommand per target format."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

export_app = typer.Typer(help="Export a network to another runtime's format.", no_args_is_help=True)


@export_app.command("onnx")
def onnx(
    cfg: Path = typer.Argument(..., help="Darknet .cfg file."),
    weights: Path = typer.Argument(..., help="Its .weights file."),
    out: Path = typer.Argument(..., help="Output .onnx file."),
    size: Optional[int] = typer.Option(None, "--size", "-s", help="Input width and height, a multiple of 32 "
                                       "(default: the cfg's)."),
    dynamic: bool = typer.Option(False, "--dynamic", help="Symbolic batch, height and width."),
    batch: int = typer.Option(1, "--batch", "-b", help="Batch size of the traced (static) graph."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset."),
    check: bool = typer.Option(True, "--check/--no-check", help="Run the exported graph in onnxruntime "
                               "(when installed) and compare it with PyTorch."),
) -> None:
    """Write the inference network (batch norm folded, reorg included) as ONNX: input `images`
    (N, C, H, W floats in [0, 1]), one output per detection layer in Darknet's layout."""
    import torch

    import darkpy
    from darkpy.cli.commands.detect import check_size
    from darkpy.net.export import export_onnx, run_onnx
    from darkpy.net.inference import forward_detections

    from darkpy.fileio import refuse_overwrite

    check_size(size)
    refuse_overwrite(out, [cfg, weights], flag="OUT")
    net = darkpy.load_network(cfg, weights, size=size, device="cpu")
    path = export_onnx(net, out, dynamic=dynamic, batch=batch, opset=opset)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            typer.echo("onnxruntime not installed: skipped the check", err=True)
            return
        c, h, w = net.input_shape
        x = torch.rand(batch, c, h, w)
        with torch.no_grad():
            ref = forward_detections(net, x)
        got = run_onnx(path, x)
        err = max(float(abs(g - r.numpy()).max()) for g, r in zip(got, ref))
        typer.echo(f"onnxruntime vs PyTorch: max abs difference {err:.2e}")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
