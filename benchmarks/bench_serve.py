"""`darkpy serve` under load: requests/s and p50/p99 latency at 1, 8 and 64 concurrent clients,
against the same images through `darkpy detect FOLDER` in the same run (the ratio is serve's
requests/s over detect's images/s).

    .venv/bin/python benchmarks/bench_serve.py [--models demo,yolov2-tiny-voc] [--clients 1,8,64]
                                               [--requests 128] [--precision fp32] [--batch 8]

Models: `demo` is the bundled demo model (96x96 input); `yolov2-tiny-voc` runs cfg/yolov2-tiny-voc.cfg
with random weights (`--random-weights`: the speed does not depend on the weights; its boxes mean
nothing, and random weights can give many boxes, so NMS costs more than with trained ones). The
images are data/demo/images, copied to `--requests` files for `detect` (same --batch, same
precision). detect's images/s leaves out its start-up: N / the sum of the per-image times it prints
(each batch's time, reading included, shared among its images). The clients are asyncio
(aiohttp) in this process, on the same CPU as the server: on a small machine they take a share of it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = sorted((ROOT / "data" / "demo" / "images").glob("*.jpg"))
MODELS = {"demo": [],
          "yolov2-tiny-voc": ["--cfg", str(ROOT / "cfg" / "yolov2-tiny-voc.cfg"), "--random-weights"]}


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start_server(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "darkpy", "serve", "--port", "0", *args], cwd=ROOT,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            m = re.search(r"on (http://\S+/) ", line)
            if m:
                found.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(300) or not found:
        proc.kill()
        raise SystemExit("darkpy serve did not start")
    return proc, found[0]


async def load(url: str, clients: int, requests: int, bodies: list[bytes]) -> tuple[float, list[float], int]:
    """(seconds, latencies, failures) of `requests` POSTs by `clients` concurrent clients."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    counter = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client() -> None:
            nonlocal failures
            for i in counter:
                t = time.perf_counter()
                async with session.post(url + "detect", data=bodies[i % len(bodies)],
                                        headers={"Content-Type": "image/jpeg"}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures += 1
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - start, latencies, failures


def detect_rate(model_args: list[str], n: int, precision: str, batch: int) -> float:
    """Images/s of `darkpy detect` on a folder of n images, from the times it prints per image
    ("Predicted in S seconds": each batch's time shared among its images), so start-up is left out."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(n):
            shutil.copy(IMAGES[i % len(IMAGES)], folder / f"{i:05d}.jpg")
        cmd = [sys.executable, "-m", "darkpy", "detect", str(folder), "--no-save", "--engine", "torch",
               "--precision", precision, "--batch", str(batch), *model_args]
        out = subprocess.run(cmd, cwd=ROOT, env=_env(), check=True, capture_output=True, text=True).stdout
        times = [float(t) for t in re.findall(r"Predicted in ([0-9.]+) seconds", out)]
        if len(times) != n:
            raise SystemExit(f"darkpy detect printed {len(times)} times for {n} images")
        return n / max(sum(times), 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="demo,yolov2-tiny-voc")
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--requests", type=int, default=128, help="requests per concurrency level")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    import aiohttp  # noqa: F401  (the server's extra: pip install 'darkpy[serve]')

    bodies = [p.read_bytes() for p in IMAGES]
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {args.requests} requests per level; "
          f"precision {args.precision}; serve --batch {args.batch}")
    print(f"{'model':18s} {'clients':>7s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'detect img/s':>13s} "
          f"{'ratio':>6s} {'imgs/batch':>10s}")
    for name in args.models.split(","):
        model_args = MODELS[name]
        rate = detect_rate(model_args, args.requests, args.precision, args.batch)
        proc, url = start_server([*model_args, "--precision", args.precision, "--batch", str(args.batch)])
        try:
            asyncio.run(load(url, 4, 16, bodies))  # warm-up
            for clients in (int(c) for c in args.clients.split(",")):
                import json
                import urllib.request

                before = json.load(urllib.request.urlopen(url + "healthz"))
                seconds, lat, failed = asyncio.run(load(url, clients, args.requests, bodies))
                after = json.load(urllib.request.urlopen(url + "healthz"))
                lat.sort()
                rps = args.requests / seconds
                p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
                served = after["served"] - before["served"]
                per_batch = served / max(1, after["batches"] - before["batches"])
                p50 = 1000 * statistics.median(lat)
                print(f"{name:18s} {clients:7d} {rps:8.1f} {p50:8.1f} {1000 * p99:8.1f} {rate:13.1f} "
                      f"{rps / rate:6.2f} {per_batch:10.1f}" + (f"  {failed} failed" if failed else ""))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


if __name__ == "__main__":
    main()
