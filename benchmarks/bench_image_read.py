"""The one image reader (`darkpy.formats.image.read_bgr`) against a bare `cv2.imdecode`.

    .venv/bin/python benchmarks/bench_image_read.py [--images 200] [--size 500x375]

`read_bgr` reads the file's bytes, decodes them with `cv2.imdecode`, and for a JPEG collects
what libjpeg writes to stderr while decoding (a damaged JPEG is refused, not used half-grey).
The baseline, measured in the same run on the same files, is `np.fromfile` + `cv2.imdecode`
with no check. Prints images/s for both and the ratio (the cost of the check).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from darkpy.formats.image import read_bgr  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", default="500x375")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for ext in (".jpg", ".png"):
            for i in range(4):
                img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (9, 9), 3)
                p = Path(tmp) / f"{i}{ext}"
                cv2.imwrite(str(p), img)
                paths.append(p)
        for ext in (".jpg", ".png"):
            files = [p for p in paths if p.suffix == ext]

            def bare():
                for k in range(args.images):
                    cv2.imdecode(np.fromfile(str(files[k % len(files)]), np.uint8), cv2.IMREAD_COLOR)

            def ours():
                for k in range(args.images):
                    read_bgr(files[k % len(files)])

            times = {}
            for name, fn in (("imdecode", bare), ("read_bgr", ours)):
                fn()  # warm-up (and the page cache)
                t = time.perf_counter()
                fn()
                times[name] = time.perf_counter() - t
            base, mine = args.images / times["imdecode"], args.images / times["read_bgr"]
            print(f"{ext[1:]:4} {w}x{h}: imdecode {base:7.1f} img/s, read_bgr {mine:7.1f} img/s, "
                  f"ratio {base / mine:.2f}x the time")


if __name__ == "__main__":
    main()
