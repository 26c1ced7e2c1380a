"""Forward passes on parallel lanes: the CPU's cores split between whole batches, not inside each
convolution.

A forward pass on every core splits each convolution between OpenMP threads that meet at a
barrier after every layer. The reader and writer threads (decode, letterbox, draw, encode) need
the same cores now and then; whenever one of them preempts an OpenMP thread, the other threads
of the pass wait for it at the next barrier, so each millisecond of reading or writing costs
the forward a millisecond on every core. On 2 cores that took a yolov2-voc folder run to 0.75
of the forward alone.

Lanes run whole batches side by side instead: with 2 lanes of 1 thread each, two batches are in
flight at once, each layer one core's work, with no barrier between them. Reading and writing
then take only the CPU time they use. Measured on the 2-core Zen 4, with an image decoder +
encoder running beside it: 1.3-3.7x the images/s of one pass on both cores. Alone it is as fast:
0.95-1.07x in fp32 and bf16.

Each pass keeps its own images, so the results are those of a pass of the same batch (packed
convolutions, `darkpy.net.packed`, give the same numbers at any thread count). Results come
back in the order the batches went in.
"""
from __future__ import annotations

import os
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

from darkpy.detect.overlap import usable_cores

T = TypeVar("T")
R = TypeVar("R")


def _lane_start(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)   # this thread's OpenMP team only


class ForwardLanes:
    """`lanes` worker threads, each running whole forward passes on `threads` cores."""

    def __init__(self, lanes: int, threads: int):
        if lanes < 1 or threads < 1:
            raise ValueError("lanes and threads must be at least 1")
        self.lanes = lanes
        self.threads = threads

    @classmethod
    def for_machine(cls, device_type: str = "cpu") -> "ForwardLanes | None":
        """Two lanes sharing the CPU's cores, where that applies: a CPU network, at least 2 cores,
        torch using all of them and no thread count set by the user (OMP_NUM_THREADS or
        `torch.set_num_threads` below the core count), which is then left as it is. None: run
        the passes one at a time, as before."""
        if device_type != "cpu" or "OMP_NUM_THREADS" in os.environ:
            return None
        import torch

        cores = usable_cores()
        threads = torch.get_num_threads()
        if cores < 2 or threads < cores:
            return None
        return cls(2, max(1, threads // 2))

    def balanced(self, batches: Iterable[list], count: int) -> Iterator[list]:
        """`batches` (lists of images, `count` of them expected), the last one split into single
        images when the batches do not divide among the lanes: otherwise it runs on one lane
        while the others have nothing left (a 50-image fp32 folder in batches of 2: the 25th
        batch alone, about 0.4 s of one idle core)."""
        for k, batch in enumerate(batches, 1):
            if k == count and count % self.lanes and len(batch) > 1:
                yield from ([image] for image in batch)
            else:
                yield batch

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn(item)` for every item, run on the lanes, yielded in order. One more item than
        there are lanes is handed out ahead, so a lane that finishes never waits for the
        slowest; an exception is raised where its item's result would have come."""
        import torch

        main_threads = torch.get_num_threads()
        cv2 = sys.modules.get("cv2")
        cv2_threads = cv2.getNumThreads() if cv2 is not None else None
        if cv2 is not None:
            # the reader and writer threads run beside the lanes: OpenCV's own pool would split
            # their resizes and encodes over cores the lanes already use (a video through
            # yolov2-tiny-voc at bf16: 40.9 -> 44.2 FPS, medians of 4 alternating runs)
            cv2.setNumThreads(1)
        pending: deque = deque()
        pool = ThreadPoolExecutor(self.lanes, thread_name_prefix="darkpy-lane",
                                  initializer=_lane_start, initargs=(self.threads,))
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > self.lanes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)
            torch.set_num_threads(main_threads)   # the lanes' setting is also torch's default for new threads
            if cv2 is not None:
                cv2.setNumThreads(cv2_threads)
