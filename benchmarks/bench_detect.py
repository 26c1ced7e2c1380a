"""Forward speed of a detector at fp32 and bf16 (fp16 on CUDA), each against the matrix-product
ceiling of the same dtype, measured in one run with interleaved repeats.

    .venv/bin/python benchmarks/bench_detect.py [--cfg cfg/yolov2-voc.cfg] [--size 416] [--batch 1]
                                                [--rounds 5] [--jit] [--device cpu|cuda]

Every round times each variant once (best of 2 calls), in turn, so all see the same machine load;
the best round per variant is reported. Variants: the eager `Predictor` (batch norm folded,
channels_last, leaky_relu in place) at each precision; with `--jit`, the same traced, frozen and
passed through `torch.jit.optimize_for_inference` (oneDNN conv+bias+activation fusion, prepacked
weights), with its build time. Random weights (the speed does not depend on them). Targets
(issue 15): fp32 >= 0.7 of the fp32 matmul; bf16 >= 3x fp32 on an AMX CPU. The CPU model, its
AMX/AVX512_BF16 flags and the load average are printed, since the numbers mean little without them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import darkpy  # noqa: E402
from darkpy.net.inference import Predictor, forward_detections  # noqa: E402
from darkpy.net.precision import cpu_has_native_bf16, cpu_summary, precision_name  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(fn, device, n=2) -> float:
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best


class _Outputs(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return tuple(forward_detections(self.model, x))


def jit_variant(predictor: Predictor, x: torch.Tensor):
    """Trace + freeze + optimize_for_inference; returns (callable, build seconds)."""
    import warnings

    t = time.perf_counter()
    xin = predictor.prepare_input(x)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_Outputs(predictor.model).eval(), xin, check_trace=False)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        frozen(xin)
    build = time.perf_counter() - t

    def run():
        with torch.no_grad():
            return frozen(xin)

    return run, build


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", default=str(ROOT / "cfg" / "yolov2-voc.cfg"))
    ap.add_argument("--size", type=int, default=416)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--matmul", type=int, default=2048)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jit", action="store_true", help="also time torch.jit freeze + optimize_for_inference")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    low = torch.float16 if device.type == "cuda" else torch.bfloat16
    print(f"CPU: {cpu_summary()}; native bf16: {cpu_has_native_bf16()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    net = darkpy.load_network(args.cfg, size=args.size, device="cpu")
    bflops = sum(l.bflops for l in net.layers) * args.batch
    x = torch.rand(args.batch, 3, args.size, args.size)
    variants, yard = {}, {}
    for dtype in (torch.float32, low):
        name = precision_name(dtype)
        p = Predictor(net, device=device, precision=dtype)
        plain = Predictor(net, device=device, precision=dtype, pack=False)   # weights reordered per call
        xin = p.prepare_input(x)

        def eager(p=p, xin=xin):
            with torch.inference_mode():
                return forward_detections(p.model, xin)

        def eager_plain(p=plain, xin=xin):
            with torch.inference_mode():
                return forward_detections(p.model, xin)

        variants[f"eager {name}"] = (eager, dtype)
        if p.pack:
            variants[f"eager {name}, not packed"] = (eager_plain, dtype)
        if args.jit:   # tracing needs plain weights (the jit prepacks them itself)
            fn, build = jit_variant(plain, x)
            variants[f"jit {name}"] = (fn, dtype)
            print(f"jit {name}: trace + freeze + optimize_for_inference took {build:.1f} s")
        a = torch.rand(args.matmul, args.matmul, device=device).to(dtype)
        b = torch.rand(args.matmul, args.matmul, device=device).to(dtype)
        yard[dtype] = lambda a=a, b=b: a @ b
    for fn, _ in variants.values():  # warm-up (oneDNN primitive creation)
        fn()
    times = {k: [] for k in variants}
    mm = {d: [] for d in yard}
    for _ in range(args.rounds):
        for d, fn in yard.items():
            mm[d].append(best_of(fn, device))
        for k, (fn, _) in variants.items():
            times[k].append(best_of(fn, device))
    n = args.matmul
    mm_gf = {d: 2.0 * n ** 3 / min(v) / 1e9 for d, v in mm.items()}
    cfg_name = Path(args.cfg).stem
    print(f"{cfg_name} {args.size}x{args.size}, batch {args.batch}: {bflops:.2f} BFLOPs per pass; "
          f"{args.rounds} interleaved rounds, best round shown (median in brackets)")
    for d, gf in mm_gf.items():
        print(f"  matmul {n}x{n} {precision_name(d)}: {gf:.0f} GFLOP/s")
    base = min(times["eager fp32"])
    for k, (fn, d) in variants.items():
        t = min(times[k])
        med = sorted(times[k])[len(times[k]) // 2]
        gf = bflops / t
        print(f"  {k:12s} {t * 1e3:8.1f} ms [{med * 1e3:.1f}]  {gf:6.0f} GFLOP/s  "
              f"{gf / mm_gf[d]:.2f} of {precision_name(d)} matmul  {base / t:.2f}x eager fp32")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
