"""Reader/writer overlap helpers: order kept, errors surface, early close stops the producer."""
from __future__ import annotations

import threading
import time

import pytest

from darkpy.detect.overlap import BackgroundWriter, prefetch


def test_prefetch_keeps_order_and_runs_ahead():
    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    it = prefetch(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(produced) >= 3  # the producer ran ahead while we waited
    assert list(it) == list(range(1, 10))


def test_prefetch_reraises_and_stops_on_close():
    def bad():
        yield 1
        raise ValueError("broken image list")

    it = prefetch(bad())
    assert next(it) == 1
    with pytest.raises(ValueError, match="broken image list"):
        next(it)
    before = threading.active_count()
    it = prefetch(iter(range(1000)), depth=1)
    next(it)
    it.close()
    time.sleep(0.3)
    assert threading.active_count() <= before


def test_background_writer_runs_in_order_and_reports_errors():
    done = []
    with BackgroundWriter() as w:
        for i in range(5):
            w.submit(done.append, i)
    assert done == [0, 1, 2, 3, 4]

    def fail(_):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with BackgroundWriter() as w:
            w.submit(fail, 1)


def test_leave_a_core_for_io_restores_the_thread_count(monkeypatch):
    import torch

    from darkpy.detect import overlap

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n = torch.get_num_threads()
    monkeypatch.setattr(overlap.os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
    with overlap.leave_a_core_for_io():
        inside = torch.get_num_threads()
    assert torch.get_num_threads() == n
    assert inside == (n - 1 if n >= 2 else n)
    monkeypatch.setenv("OMP_NUM_THREADS", str(n))
    with overlap.leave_a_core_for_io():
        assert torch.get_num_threads() == n
