"""Darknet-19 classification training speed, against forward-only inference in the same run.

    .venv/bin/python benchmarks/bench_classifier.py [--size 224] [--batch 8] [--iters 5] [--device cpu|cuda]

For each device (CPU, and CUDA when present):

- forward: `net(x)` in eval mode without gradients (the baseline);
- train step: `ClassificationTask.loss` (forward in training mode, Darknet's softmax loss) +
  backward + the engine's Darknet SGD step, on random images and labels;
- with AMP on CUDA, the same train step under autocast + GradScaler;
- data: Darknet's augmentation pipeline (decode a 500x375 JPEG, random crop/rotate/aspect,
  flip, HSV) into 224x224, images/s on the thread pool the task uses;
- labels: the label-in-path rule for 100,000 ImageNet-style paths, against the plain loop.

Each line gives images/s and the ratio to the forward baseline of that device (training costs
about 3x a forward pass in theory: forward, plus twice its work backward).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def rate(fn, images: int, iters: int, sync) -> float:
    fn()  # warm-up
    sync()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return images * iters / (time.perf_counter() - t)


def bench_device(device: str, size: int, batch: int, iters: int) -> None:
    import darkpy
    from darkpy.classify.labels import LabelledList
    from darkpy.train.classifier.task import ClassificationTask
    from darkpy.train.classifier.loss import build_truth
    from darkpy.train.optimizer import make_optimizer

    net = darkpy.load_network(REPO / "cfg/darknet19.cfg", size=size, device=device)
    net.net.batch, net.net.subdivisions = batch, 1
    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    x = torch.rand(batch, 3, size, size, device=dev)
    items = LabelledList(["x"] * 1000, np.arange(1000), [f"c{i}" for i in range(1000)])
    task = ClassificationTask(net, items, threads=1)
    truth = torch.from_numpy(build_truth(np.random.default_rng(0).integers(0, 1000, batch), 1000, 1000))
    opt = make_optimizer(net, net.net)
    opt.set_rate(1e-4)

    def forward():
        with torch.no_grad():
            net(x)

    def train_step(scaler=None):
        with torch.autocast("cuda", dtype=torch.float16, enabled=scaler is not None):
            rep = task.loss(net, x, truth, 0)
        if scaler is not None:
            scaler.scale(rep.loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            rep.loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)

    net.eval()
    base = rate(forward, batch, iters, sync)
    net.train()
    train = rate(train_step, batch, iters, sync)
    print(f"[{device}] darknet19 {size}x{size}, batch {batch}, {torch.get_num_threads()} torch threads")
    print(f"  forward (baseline)   {base:8.1f} img/s   1.00x")
    print(f"  train step           {train:8.1f} img/s   {train / base:.2f}x of forward")
    if dev.type == "cuda":
        scaler = torch.amp.GradScaler("cuda")
        amp = rate(lambda: train_step(scaler), batch, iters, sync)
        print(f"  train step, AMP      {amp:8.1f} img/s   {amp / base:.2f}x of forward")
    task.close()


def bench_data(size: int, n: int, threads: int) -> None:
    import cv2

    from darkpy.train.classifier.augment import AugmentConfig, augment
    from darkpy.classify.image import load_rgb, to_chw
    from concurrent.futures import ThreadPoolExecutor

    cfg = AugmentConfig(size, size, size // 2 if size > 128 else size, size * 2, angle=7, aspect=0.75,
                        hue=0.1,
                        saturation=0.75, exposure=0.75)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(16):
            p = f"{tmp}/{i}.jpg"
            img = cv2.GaussianBlur(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8), (9, 9), 3)
            cv2.imwrite(p, img)
            paths.append(p)

        def one(i):
            return to_chw(augment(load_rgb(paths[i % 16]), np.random.default_rng(i), cfg))

        one(0)
        with ThreadPoolExecutor(threads) as pool:
            t = time.perf_counter()
            list(pool.map(one, range(n)))
            dt = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(n):
            load_rgb(paths[i % 16])
        decode = n / (time.perf_counter() - t)
    print(f"[data] 500x375 JPEG -> {size}x{size} augmented, {threads} threads: {n / dt:8.1f} img/s "
          f"({n / dt / decode:.2f}x of decoding alone, {decode:.1f} img/s on one thread)")


def bench_labels(n: int) -> None:
    """Darknet's label-in-path rule for n ImageNet-style paths: darkpy's bucketed matcher against
    the plain loop over every label (Darknet's `fill_truth`), timed on the same paths."""
    from darkpy.classify.labels import assign_labels
    from darkpy.formats.datafile import read_names

    labels = read_names(REPO / "data/imagenet.labels.list")[:1000]
    paths = [f"/data/imagenet/train/{labels[i % 1000]}/{labels[i % 1000]}_{i}.JPEG" for i in range(n)]
    t = time.perf_counter()
    assign_labels(paths, labels)
    fast = n / (time.perf_counter() - t)
    few = paths[: max(1, n // 50)]
    t = time.perf_counter()
    for p in few:
        [i for i, lab in enumerate(labels) if lab in p]
    slow = len(few) / (time.perf_counter() - t)
    print(f"[labels] {n} paths x 1000 labels: {fast:10.0f} paths/s ({fast / slow:.1f}x the plain loop, "
          f"{slow:.0f} paths/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=None, help="default: 8 on CPU, 64 on CUDA")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--device", choices=("cpu", "cuda", "all"), default="all")
    ap.add_argument("--data-images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--label-paths", type=int, default=100000)
    args = ap.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            print("[cuda] not available: skipped")
            continue
        batch = args.batch or (64 if device == "cuda" else 8)
        bench_device(device, args.size, batch, args.iters if device == "cpu" else max(args.iters, 20))
    bench_data(args.size, args.data_images, args.threads)
    bench_labels(args.label_paths)


if __name__ == "__main__":
    main()
