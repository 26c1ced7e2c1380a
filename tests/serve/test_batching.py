"""The batcher: concurrent jobs share forward passes, a full queue refuses, shutdown answers all."""
from __future__ import annotations

import threading

import pytest

from darkpy.serve.batching import Batcher, QueueFull


class Gate:
    """A run_batch that records batch sizes and waits for the test to open it."""

    def __init__(self):
        self.open = threading.Event()
        self.started = threading.Event()
        self.sizes: list[int] = []

    def __call__(self, xs, sizes, settings, sources):
        self.started.set()
        self.open.wait(30)
        self.sizes.append(len(xs))
        return [f"{s}:{x}" for x, s in zip(xs, sources)]


def test_waiting_jobs_share_a_batch_and_keep_their_order():
    gate = Gate()
    b = Batcher(gate, batch=4, max_wait=0.0, queue_size=16)
    first = b.submit(0, (1, 1), None, "a")
    assert gate.started.wait(10)          # the worker holds job a
    rest = [b.submit(i, (1, 1), None, f"j{i}") for i in range(1, 7)]
    gate.open.set()
    assert first.result(10) == "a:0"
    assert [f.result(10) for f in rest] == [f"j{i}:{i}" for i in range(1, 7)]
    assert gate.sizes == [1, 4, 2]        # six waiting jobs: batches of at most 4
    b.close()


def test_a_full_queue_refuses():
    gate = Gate()
    b = Batcher(gate, batch=1, queue_size=2)
    b.submit(0, (1, 1), None, "running")
    assert gate.started.wait(10)
    b.submit(1, (1, 1), None, "q1")
    b.submit(2, (1, 1), None, "q2")
    assert b.full()
    with pytest.raises(QueueFull):
        b.submit(3, (1, 1), None, "refused")
    gate.open.set()
    b.close()


def test_a_failing_batch_fails_its_jobs_only():
    calls = []

    def run(xs, sizes, settings, sources):
        calls.append(list(sources))
        if "bad" in sources:
            raise RuntimeError("boom")
        return list(sources)

    b = Batcher(run, batch=1)
    with pytest.raises(RuntimeError):
        b.submit(0, (1, 1), None, "bad").result(10)
    assert b.submit(0, (1, 1), None, "good").result(10) == "good"
    b.close()


def test_cancelled_jobs_are_skipped():
    gate = Gate()
    b = Batcher(gate, batch=8, queue_size=8)
    b.submit(0, (1, 1), None, "a")
    assert gate.started.wait(10)
    gone = b.submit(1, (1, 1), None, "gone")
    kept = b.submit(2, (1, 1), None, "kept")
    assert gone.cancel()                  # its client left before the batch ran
    gate.open.set()
    assert kept.result(10) == "kept:2"
    assert gate.sizes == [1, 1]
    b.close()
