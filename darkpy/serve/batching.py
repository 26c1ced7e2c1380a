"""Dynamic batching: requests from concurrent clients share forward passes.

One worker thread owns the network. It takes the first waiting image, then every other image
already waiting, up to the detector's batch; while other requests are still being decoded it
waits for them a little longer (at most `max_wait` seconds), so a lone client never waits and a
crowd fills batches. The queue is bounded: `submit` raises `QueueFull` (the server's 503) rather
than letting latency grow without limit."""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Sequence

_STOP = object()


class QueueFull(Exception):
    """More requests are waiting than the queue holds."""


@dataclass
class Job:
    x: object                 # the prepared network input (C, H, W)
    size: tuple[int, int]     # the image's (width, height)
    settings: object          # engine.Thresholds
    source: str
    future: Future


class Batcher:
    """`submit(...)` -> a Future of the image's result; `run_batch(xs, sizes, settings, sources)`
    does the work for a list of jobs (`engine.Runner.run`)."""

    def __init__(self, run_batch: Callable[[Sequence, Sequence, Sequence, Sequence], list], batch: int,
                 max_wait: float = 0.005, queue_size: int = 256):
        self.run_batch, self.batch, self.max_wait = run_batch, max(1, int(batch)), max(0.0, float(max_wait))
        self.jobs: queue.Queue = queue.Queue(maxsize=max(1, int(queue_size)))
        self._incoming = 0
        self._lock = threading.Lock()
        self.batches = 0          # forward passes run
        self.images = 0           # images they held
        self._thread = threading.Thread(target=self._work, name="darkpy-batcher", daemon=True)
        self._thread.start()

    # -- request side ------------------------------------------------------------------------
    def full(self) -> bool:
        return self.jobs.full()

    def pending(self) -> int:
        return self.jobs.qsize()

    def arriving(self, delta: int) -> None:
        """A request started (+1) or finished (-1) decoding: the worker waits for such requests."""
        with self._lock:
            self._incoming += delta

    def submit(self, x, size, settings, source: str) -> Future:
        future: Future = Future()
        try:
            self.jobs.put_nowait(Job(x, size, settings, source, future))
        except queue.Full:
            raise QueueFull(f"{self.jobs.maxsize} requests already waiting") from None
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Finish the jobs already queued, then stop the worker."""
        deadline = time.monotonic() + timeout
        while self._thread.is_alive():
            try:
                self.jobs.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))

    # -- worker ------------------------------------------------------------------------------
    def _gather(self, first: Job) -> tuple[list[Job], bool]:
        jobs, stop = [first], False
        deadline = time.monotonic() + self.max_wait
        while len(jobs) < self.batch:
            try:
                item = self.jobs.get_nowait()
            except queue.Empty:
                left = deadline - time.monotonic()
                if self._incoming <= 0 or left <= 0:
                    break
                try:
                    item = self.jobs.get(timeout=min(left, 0.001))
                except queue.Empty:
                    continue
            if item is _STOP:
                stop = True
                break
            jobs.append(item)
        return jobs, stop

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self.jobs.get()
            if first is _STOP:
                break
            jobs, stop = self._gather(first)
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]  # gone clients: skipped
            if not live:
                continue
            try:
                results = self.run_batch([j.x for j in live], [j.size for j in live],
                                         [j.settings for j in live], [j.source for j in live])
            except BaseException as exc:  # handed to each request; the worker goes on
                for j in live:
                    j.future.set_exception(exc)
                continue
            self.batches += 1
            self.images += len(live)
            for j, r in zip(live, results):
                j.future.set_result(r)
        while True:  # stopping: whatever is still queued is refused, not left hanging
            try:
                item = self.jobs.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP and item.future.set_running_or_notify_cancel():
                item.future.set_exception(QueueFull("the server is shutting down"))
