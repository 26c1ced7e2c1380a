"""`darkpy benchmark`: latency and FPS of a network per input size, on CPU or GPU."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from darkpy.cli.precision import precision_option


def benchmark(
    cfg: Path = typer.Argument(..., help="Darknet .cfg file."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="A .weights file (random weights "
                                           "time the same)."),
    sizes: str = typer.Option("320,416,608", "--sizes",
                              help="Comma-separated input sizes (multiples of 32)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per forward pass."),
    device: Optional[str] = typer.Option(None, "--device", "-d",
                                         help="cpu, cuda, cuda:N (default: CUDA if present)."),
    iters: int = typer.Option(5, "--iters", help="Timed runs per size (the best one is reported)."),
    half: Optional[bool] = typer.Option(None, "--half/--no-half",
                                        help="fp16 (same as --precision fp16/fp32)."),
    matmul_size: int = typer.Option(2048, "--matmul-size", help="Side of the matmul yardstick (same dtype)."),
    precision: str = precision_option(),
) -> None:
    """Latency, FPS and achieved GFLOP/s per input size (YOLOv2's speed/accuracy trade-off).

    At the default precision on a CPU that multiplies bf16 natively (AMX, AVX512_BF16) it also
    times bf16, which darkpy runs only when asked (`--precision bf16`: faster, not Darknet's numbers)."""
    from rich.console import Console
    from rich.table import Table

    from darkpy.net.benchmark import benchmark_predictor, matmul_gflops
    from darkpy.cli.commands.detect import check_size
    from darkpy.device import select_device
    from darkpy.errors import UsageError

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes must be integers separated by commas, got {sizes!r}") from None
    if not size_list:
        raise UsageError("--sizes is empty")
    for s in size_list:
        check_size(s)
    if batch < 1 or iters < 1:
        raise UsageError("--batch and --iters must be at least 1")
    from darkpy.net.precision import cpu_has_native_bf16, precision_name, resolve_precision

    dev = select_device(device)
    if half is not None:
        precision = "fp16" if half else "fp32"
    dtype = resolve_precision(precision, dev)
    import torch

    from darkpy.net.inference import Predictor

    # loaded as `detect` loads it (bf16/fp16 one layer at a time); fp16 on a CPU is timed, not refused
    predictor = Predictor.load(cfg, weights, device=dev, precision=dtype)
    rows = benchmark_predictor(predictor, size_list, batch, iters)
    bf16 = None
    if precision == "auto" and dev.type == "cpu" and dtype == torch.float32 and cpu_has_native_bf16():
        del predictor  # the same weights again at bf16, without the fp32 copy beside them
        bf16 = benchmark_predictor(Predictor.load(cfg, weights, device=dev, precision=torch.bfloat16),
                                   size_list, batch, iters)
    mm = matmul_gflops(dev, max(16, matmul_size), iters=3, dtype=dtype)
    name = precision_name(dtype)
    table = Table(title=f"{cfg.name} on {dev} (batch {batch}, {name})")
    columns = ("size", "BFLOPs", "latency ms", "FPS", "GFLOP/s", "vs matmul")
    for col in columns + (("bf16 speed-up",) if bf16 else ()):
        table.add_column(col, justify="right")
    for i, r in enumerate(rows):
        gain = (f"{r.latency_ms / bf16[i].latency_ms:.2f}x",) if bf16 else ()
        table.add_row(f"{r.size}x{r.size}", f"{r.bflops:.2f}", f"{r.latency_ms:.1f}", f"{r.fps:.2f}",
                      f"{r.gflops:.1f}", f"{r.gflops / mm:.2f}", *gain)
    console = Console() if Console().is_terminal else Console(width=120)
    console.print(table)
    console.print(f"{name} matmul on {dev}: {mm:.1f} GFLOP/s")
    if bf16:
        console.print("bf16 speed-up: what `--precision bf16` would gain on this CPU (confidences then move by "
                      "~1e-3 and boxes near the threshold can change; the default stays Darknet's fp32)")


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark)
