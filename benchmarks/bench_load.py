"""Parse + build + load yolov2-voc at 416 from a ~200 MB random .weights file, as a ratio to
reading the same file's bytes with numpy alone (target: <= 2x)."""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import darkpy  # noqa: E402
import darkpy.net.model  # noqa: E402
from darkpy.net.weights import WeightsHeader  # noqa: E402


def best_of(fn, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    cfg = ROOT / "cfg" / "yolov2-voc.cfg"
    floats = darkpy.net.model.parse_network(cfg).num_weight_floats()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.weights"
        rng = np.random.default_rng(0)
        with open(path, "wb") as fh:
            fh.write(WeightsHeader().pack())
            fh.write(rng.random(floats, dtype=np.float32).tobytes())
        size_mb = path.stat().st_size / 1e6
        baseline = best_of(lambda: np.fromfile(path, dtype=np.uint8))
        load = best_of(lambda: darkpy.load_network(cfg, path, size=416, device="cpu"))
    print(f"weights file: {size_mb:.1f} MB ({floats:,} floats)")
    print(f"numpy read of the bytes:        {baseline * 1000:8.1f} ms")
    print(f"darkpy parse+build+load (416):  {load * 1000:8.1f} ms")
    print(f"ratio: {load / baseline:.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
