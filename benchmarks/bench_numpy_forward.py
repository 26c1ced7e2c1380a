"""Forward only, one 416x416 image: darkpy's torch-free numpy engine (darkpy.net.numpy_forward)
against the torch engine at fp32 (`Predictor`, folded batch norm), interleaved rounds in one
process, random weights written in Darknet's format. Also the load time (cfg + weights + fold).

    .venv/bin/python benchmarks/bench_numpy_forward.py [--cfg cfg/yolov2-voc.cfg] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", default=str(ROOT / "cfg" / "yolov2-voc.cfg"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import numpy as np
    import torch

    import darkpy
    from darkpy.net.inference import Predictor
    from darkpy.net.numpy_forward import NumpyNetwork

    print(f"load average {os.getloadavg()[0]:.2f}, torch threads {torch.get_num_threads()}, cfg {args.cfg}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.weights"
        darkpy.load_network(args.cfg, device="cpu").save_weights(weights)
        t = time.perf_counter()
        npnet = NumpyNetwork.load(args.cfg, weights)
        t_np_load = time.perf_counter() - t
        t = time.perf_counter()
        pred = Predictor(darkpy.load_network(args.cfg, weights, device="cpu"), precision="fp32", inplace=True)
        t_pt_load = time.perf_counter() - t
    x = np.random.default_rng(0).random((1, 3, npnet.height, npnet.width), np.float32)
    xt = torch.from_numpy(x)
    times = {"numpy": [], "torch fp32": []}
    for _ in range(args.rounds):
        t = time.perf_counter()
        npnet.forward(x)
        times["numpy"].append(time.perf_counter() - t)
        t = time.perf_counter()
        pred(xt)
        times["torch fp32"].append(time.perf_counter() - t)
    print(f"load + fold: numpy {t_np_load:.2f} s, torch {t_pt_load:.2f} s")
    for name, ts in times.items():
        print(f"forward {name:10s} best {min(ts) * 1000:.0f} ms, median {statistics.median(ts) * 1000:.0f} ms, "
              f"first {ts[0] * 1000:.0f} ms")
    print(f"numpy / torch fp32 (bests): {min(times['numpy']) / min(times['torch fp32']):.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
