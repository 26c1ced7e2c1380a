"""Training speed: YOLOv2 (cfg/yolov2-voc.cfg at 416) images/s and the data-loading share.

    .venv/bin/python benchmarks/bench_train.py [--batch 4] [--subdivisions 2] [--iters 3] [--workers 2]
                                               [--device cpu|cuda] [--cfg cfg/yolov2-voc.cfg] [--size 416]

Runs the real engine (`Trainer` + `DetectionTask`: Darknet augmentation in `--workers` processes,
region loss, Darknet SGD) on a generated data set (VOC-sized 500x375 images), and as the
baseline, the same forward/backward/update on tensors already in memory (no data at all). It
prints images/s for both, their ratio, and the share of step time spent waiting for data (the
goal: under 10% with 2 workers on a CPU). Multi-scale is off so every batch is 416x416. The first
batch (worker start-up, allocator warm-up) is not counted. On CUDA (when present, or with
`--device cuda`) the same runs also use `--amp` when asked.
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

from darkpy.net.model import load_network  # noqa: E402
from darkpy.train.detection.task import DetectionTask  # noqa: E402
from darkpy.train.engine import Hook, StepReport, Trainer  # noqa: E402


def make_images(root: Path, n: int, classes: int) -> list[str]:
    import cv2

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    paths = []
    for i in range(n):
        img = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
        img = cv2.GaussianBlur(img, (7, 7), 2)
        p = root / "images" / f"{i:04d}.jpg"
        cv2.imwrite(str(p), img)
        rows = [f"{rng.integers(classes)} {rng.uniform(.2, .8):.4f} {rng.uniform(.2, .8):.4f} "
                f"{rng.uniform(.05, .4):.4f} {rng.uniform(.05, .4):.4f}" for _ in range(rng.integers(1, 6))]
        (root / "labels" / f"{i:04d}.txt").write_text("\n".join(rows) + "\n")
        paths.append(str(p))
    return paths


class InMemoryTask:
    """The baseline: the same loss on one fixed mini-batch already in memory."""

    def __init__(self, task: DetectionTask):
        self.task = task

    def setup(self, trainer):
        self.task.setup(trainer)
        w, h = trainer.size_for(0)
        images, truth = next(iter(self.task.batches((w, h), trainer.iteration)))
        self.fixed = (images, truth)
        self.chunks = -(-trainer.images_per_rank // trainer.mini_batch)
        self.task.close()

    def batches(self, size, iteration):
        for _ in range(self.chunks):
            yield self.fixed

    def loss(self, net, images, targets, seen) -> StepReport:
        return self.task.loss(net, images, targets, seen)


def run(cfg: str, paths: list[str], args, in_memory: bool, device: str) -> tuple[float, float]:
    net = load_network(cfg, size=args.size, device="cpu", seed=0)
    net.net.batch, net.net.subdivisions = args.batch, args.subdivisions
    task = DetectionTask(net, paths, workers=args.workers)
    if in_memory:
        task = InMemoryTask(task)
    timings = []

    def record(tr):
        if tr.iteration > 1:   # the first batch warms up workers and allocators
            timings.append((tr.last.step_time, tr.last.data_wait, tr.last.images))

    with tempfile.TemporaryDirectory() as out:
        tr = Trainer(net, task, name="bench", backup_dir=out, device=device, max_batches=args.iters + 1,
                     multiscale=False, amp=args.amp, quiet=True, backups=False, chart_every=0,
                     hooks=[Hook(1, record)])
        tr.run()
    step = sum(t[0] for t in timings)
    wait = sum(t[1] for t in timings)
    images = sum(t[2] for t in timings)
    return images / step, wait / step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cfg", default=str(Path(__file__).resolve().parents[1] / "cfg" / "yolov2-voc.cfg"))
    ap.add_argument("--size", type=int, default=416)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--subdivisions", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--compare-amp", action="store_true",
                    help="only the in-memory step, fp32 and --amp alternating (bf16 autocast on "
                         "AMX/AVX512_BF16 CPUs, fp16 on CUDA), 2 rounds: images/s and their ratio")
    args = ap.parse_args()
    classes = max(l.classes for l in load_network(args.cfg, device="cpu").detection_layers)
    devices = [args.device] if args.device else (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), 64, classes)
        print(f"{Path(args.cfg).name} at {args.size}, batch {args.batch} in {args.subdivisions} subdivisions, "
              f"{args.iters} timed batches, {args.workers} data workers, torch threads {torch.get_num_threads()}")
        if args.compare_amp:
            from darkpy.net.precision import cpu_summary

            print(f"CPU: {cpu_summary()}")
            for device in devices:
                rates = {False: [], True: []}
                for _ in range(2):
                    for amp in (False, True):
                        args.amp = amp
                        rates[amp].append(run(args.cfg, paths, args, True, device)[0])
                f32, mixed = max(rates[False]), max(rates[True])
                print(f"[{device}] in-memory step: fp32 {f32:.2f} img/s, --amp {mixed:.2f} img/s "
                      f"(ratio {mixed / f32:.2f})")
            return
        for device in devices:
            if device == "cuda" and args.iters < 10:
                args.iters = 10
            base, _ = run(args.cfg, paths, args, True, device)
            full, share = run(args.cfg, paths, args, False, device)
            print(f"[{device}] in-memory baseline {base:.2f} img/s | full pipeline {full:.2f} img/s "
                  f"(ratio {full / base:.2f}) | data wait {share:.1%} of step time "
                  f"({'OK' if share < 0.10 else 'over'} the 10% goal)")


if __name__ == "__main__":
    main()
