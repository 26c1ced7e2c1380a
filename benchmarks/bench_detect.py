"""yolov2-voc at 416, batch 1, on the CPU: images/s and achieved GFLOP/s as a ratio to a float32
matrix product measured in the same run (target on 2 cores: >= 0.6). Also times OpenCV's Darknet
importer (cv2.dnn.readNetFromDarknet) when the installed OpenCV has it."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import darkpy  # noqa: E402
from darkpy.net.benchmark import benchmark_network, best_time, matmul_gflops  # noqa: E402


def opencv_dnn(cfg: Path, net, x: np.ndarray) -> str:
    import cv2

    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromDarknet"):
        return f"OpenCV {cv2.__version__}: cv2.dnn.readNetFromDarknet not available, not compared"
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp) / "r.weights"
        net.save_weights(w)
        dnn = cv2.dnn.readNetFromDarknet(str(cfg), str(w))
    dnn.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    dnn.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

    def run():
        dnn.setInput(x)
        dnn.forward()

    t = best_time(run, torch.device("cpu"), iters=5)
    return f"OpenCV {cv2.__version__} dnn (readNetFromDarknet): {1 / t:.2f} images/s ({t * 1e3:.0f} ms)"


def main() -> None:
    cfg = ROOT / "cfg" / "yolov2-voc.cfg"
    net = darkpy.load_network(cfg, size=416, device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    # interleave the yardstick with the network so both see the same machine load
    mms, rows = [], []
    for _ in range(3):
        mms.append(matmul_gflops("cpu", 2048, iters=2))
        rows.append(benchmark_network(net, [416], 1, "cpu", iters=2)[0])
    mm = max(mms)
    row = max(rows, key=lambda r: r.gflops)
    print(f"yolov2-voc 416x416, batch 1, CPU: {row.fps:.2f} images/s ({row.latency_ms:.0f} ms), "
          f"{row.bflops:.2f} BFLOPs/image -> {row.gflops:.1f} GFLOP/s")
    print(f"float32 matmul 2048x2048: {mm:.1f} GFLOP/s")
    ratio = row.gflops / mm
    print(f"ratio achieved/matmul: {ratio:.2f} (target >= 0.6): {'OK' if ratio >= 0.6 else 'BELOW TARGET'}")
    print(opencv_dnn(cfg, net, np.random.rand(1, 3, 416, 416).astype(np.float32)))


if __name__ == "__main__":
    main()
