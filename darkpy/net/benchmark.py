"""Speed of a network at several input sizes (the YOLOv2 paper's speed/accuracy trade-off table).

Times the fast inference path (`darkpy.net.inference.Predictor`: batch norm folded, channels_last, fp16
on CUDA) on random inputs; FLOPs are Darknet's count (2·multiply-adds of the convolutions), so
GFLOP/s compare directly with Darknet's BFLOPs column. `matmul_gflops` measures a float32 matrix
product on the same device, the yardstick for how well the convolutions use the hardware.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from darkpy.net.inference import Predictor


@dataclass
class BenchRow:
    size: int
    batch: int
    bflops: float       # per image, Darknet's count
    latency_ms: float   # per batch, best of the timed runs
    fps: float          # images per second
    gflops: float       # achieved GFLOP/s


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], device: torch.device, iters: int = 5, warmup: int = 1,
              budget_s: float | None = None) -> float:
    """Best wall time of `iters` calls after `warmup` calls (stops early past `budget_s`)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    best = float("inf")
    start = time.perf_counter()
    for _ in range(max(1, iters)):
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
        if budget_s is not None and time.perf_counter() - start > budget_s:
            break
    return best


def matmul_gflops(device: torch.device | str = "cpu", n: int = 1024, iters: int = 5,
                  dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of an n×n matrix product in `dtype` (float32 by default): the yardstick a network
    running in that dtype is compared with."""
    device = torch.device(device)
    a = torch.rand(n, n, device=device).to(dtype)
    b = torch.rand(n, n, device=device).to(dtype)
    t = best_time(lambda: a @ b, device, iters)
    return 2.0 * n ** 3 / t / 1e9


def benchmark_network(net, sizes: Sequence[int], batch: int = 1, device=None, iters: int = 5, warmup: int = 1,
                      half: bool | None = None, budget_s: float | None = None,
                      precision=None) -> list[BenchRow]:
    """Time `net` (a darkpy Network) at each input size; returns one BenchRow per size."""
    rows = []
    for size in sizes:
        net.resize(size, size)
        bflops = sum(l.bflops for l in net.layers)
        predictor = Predictor(net, device=device, half=half, precision=precision)
        x = torch.rand(batch, net.net.channels, size, size)
        x = x.to(predictor.device)
        t = best_time(lambda: predictor(x), predictor.device, iters, warmup, budget_s)
        rows.append(BenchRow(size, batch, bflops, t * 1e3, batch / t, bflops * batch / t))
    return rows


def benchmark_predictor(predictor: Predictor, sizes: Sequence[int], batch: int = 1, iters: int = 5,
                        warmup: int = 1, budget_s: float | None = None) -> list[BenchRow]:
    """Time a loaded predictor at each input size, its network resized in place (the layers keep
    their weights): one copy of the weights for every size, loaded as the commands load them
    (`Predictor.load`: at bf16/fp16 one layer at a time, never the float32 network beside the
    converted copy). `benchmark_network` times the same forward on a network it leaves untouched."""
    net = predictor.net
    rows = []
    for size in sizes:
        net.resize(size, size)
        bflops = sum(l.bflops for l in net.layers)
        x = torch.rand(batch, net.net.channels, size, size).to(predictor.device)
        t = best_time(lambda: predictor(x), predictor.device, iters, warmup, budget_s)
        rows.append(BenchRow(size, batch, bflops, t * 1e3, batch / t, bflops * batch / t))
    return rows
