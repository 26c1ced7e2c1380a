"""Overlapping image reading and writing with inference, as the video pipeline does.

`prefetch` runs an iterator (the batch loader: decode + letterbox) in a background thread a few
items ahead; `BackgroundWriter` draws and encodes annotated images in another thread. OpenCV's
decode/encode, numpy and torch's kernels release the GIL, so reading the next batch, running the
network and writing the previous results proceed together.
"""
from __future__ import annotations

import os
import queue
import threading
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


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
            for x in items:
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
            try:
                fn(*args)
            except BaseException as exc:
                self._error = exc

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


@contextmanager
def leave_a_core_for_io():
    """While reader and writer threads run beside inference, torch's pool gets one thread fewer
    than the cores this process may use, so decoding and encoding do not preempt its OpenMP
    threads (whose barriers then stall every layer). Measured on 2 shared cores, yolov2-tiny-voc
    over 50 images: 1 torch thread 4.2 s wall / 4.1 s CPU vs 2 threads 5.1 s / 5.7 s. Left alone
    when OMP_NUM_THREADS is set, when torch already uses fewer threads, or on one core."""
    import torch

    n = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if "OMP_NUM_THREADS" in os.environ or cores < 2 or n < cores:
        yield
        return
    torch.set_num_threads(cores - 1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
