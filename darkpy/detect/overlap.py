"""Overlapping image reading and writing with inference, as the video pipeline does.

`prefetch` runs an iterator (the batch loader: decode + letterbox) in a background thread a few
items ahead; `BackgroundWriter` draws and encodes annotated images in another thread. OpenCV's
decode/encode, numpy and torch's kernels release the GIL, so reading the next batch, running the
network and writing the previous results proceed together.

Both threads add the CPU time they spend to `IO_METER`; `CoreSplit` reads it beside the forward's
own time and decides, once per run, whether torch keeps every core or leaves one to them.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


class IoMeter:
    """CPU seconds spent by the reader and writer threads (thread CPU time, so a thread waiting
    for a core costs nothing), summed over the process."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds


IO_METER = IoMeter()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a background thread produces up to `depth` ahead. An
    exception in the producer is re-raised here; closing the generator stops the producer."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            it = iter(items)
            while True:
                t = time.thread_time()
                x = next(it, _END)
                IO_METER.add(time.thread_time() - t)
                if x is _END:
                    break
                if not put((True, x)):
                    return
            put((True, _END))
        except BaseException as exc:  # handed to the consumer
            put((False, exc))

    thread = threading.Thread(target=produce, daemon=True, name="darkpy-prefetch")
    thread.start()
    try:
        while True:
            ok, x = q.get()
            if not ok:
                raise x
            if x is _END:
                return
            yield x
    finally:
        stop.set()
        thread.join(timeout=5)


class BackgroundWriter:
    """Runs submitted jobs (draw + imwrite) one at a time in a thread, in order. Leaving the
    `with` block waits for them; the first exception a job raised is re-raised then."""

    def __init__(self, depth: int = 8):
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True, name="darkpy-writer")

    def _work(self) -> None:
        while True:
            job = self._q.get()
            if job is _END:
                return
            if self._error is not None:
                continue
            fn, args = job
            t = time.thread_time()
            try:
                fn(*args)
            except BaseException as exc:
                self._error = exc
            IO_METER.add(time.thread_time() - t)

    def submit(self, fn: Callable, *args) -> None:
        if self._error is not None:
            raise self._error
        self._q.put((fn, args))

    def __enter__(self) -> "BackgroundWriter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._q.put(_END)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class CoreSplit:
    """Whether torch keeps every core or leaves one to the reader and writer threads, decided
    from this run's own figures after `settle` forward passes (the first, which builds oneDNN's
    kernels, is not counted).

    With c cores, F core-seconds of forward and I seconds of reading + writing per image: torch
    on all cores loses about I per image to the threads (a preempted OpenMP thread stalls the
    others at the next barrier): F/c + I; on c-1 cores the threads run beside it:
    max(F/(c-1), I). One core is left when that is shorter, i.e. when I > F / (c (c-1)).
    Measured on 2 shared cores (yolov2-voc at fp32: F ~ 0.34 s, I ~ 0.015 s per image), keeping
    both cores is 1.4x faster; a cheap network over large photos goes the other way. Left alone
    when OMP_NUM_THREADS is set, when torch already uses fewer threads than cores, or on one core."""

    def __init__(self, settle: int = 2, cores: int | None = None):
        import torch

        self.cores = cores if cores is not None else usable_cores()
        self.threads = torch.get_num_threads()
        self.active = ("OMP_NUM_THREADS" not in os.environ and self.cores >= 2
                       and self.threads >= self.cores)
        self.settle = settle
        self.passes = 0
        self.forward_core_s = 0.0
        self.images = 0
        self.io_start = IO_METER.seconds
        self.left_a_core: bool | None = None

    @contextmanager
    def forward(self, images: int):
        """Around one forward pass of `images` images."""
        t = time.perf_counter()
        yield
        if not self.active or self.left_a_core is not None:
            return
        self.passes += 1
        if self.passes == 1:   # kernel creation: not representative
            self.io_start = IO_METER.seconds
            return
        self.forward_core_s += (time.perf_counter() - t) * self.threads
        self.images += images
        if self.passes > self.settle:
            self.decide()

    def decide(self) -> bool:
        import torch

        per_image_io = (IO_METER.seconds - self.io_start) / max(1, self.images)
        per_image_fwd = self.forward_core_s / max(1, self.images)
        c = self.cores
        self.left_a_core = per_image_io > per_image_fwd / (c * (c - 1))
        if self.left_a_core:
            torch.set_num_threads(c - 1)
        return self.left_a_core

    def restore(self) -> None:
        if self.active and self.left_a_core:
            import torch

            torch.set_num_threads(self.threads)

    def __enter__(self) -> "CoreSplit":
        return self

    def __exit__(self, *exc) -> None:
        self.restore()
