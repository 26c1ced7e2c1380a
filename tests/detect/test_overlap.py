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


def _split(monkeypatch, cores: int):
    import torch

    from darkpy.detect import overlap

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: cores)
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    return overlap.CoreSplit(settle=2, cores=cores), calls


def _run(split, forward_s: float, io_s: float, passes: int = 4) -> None:
    from darkpy.detect import overlap

    clock = [0.0]
    import time as _time

    for _ in range(passes):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_time, "perf_counter", lambda: clock[0])
            with split.forward(8):
                clock[0] += forward_s
        overlap.IO_METER.add(io_s * 8)


def test_a_heavy_network_keeps_every_core(monkeypatch):
    """yolov2-voc at fp32 on 2 cores: ~0.34 core-s forward and ~0.015 s of reading and writing per image."""
    split, calls = _split(monkeypatch, 2)
    _run(split, forward_s=8 * 0.34 / 2, io_s=0.015)
    assert split.left_a_core is False and calls == []
    split.restore()
    assert calls == []


def test_a_cheap_network_over_big_photos_leaves_a_core_and_gives_it_back(monkeypatch):
    split, calls = _split(monkeypatch, 2)
    _run(split, forward_s=8 * 0.03 / 2, io_s=0.02)
    assert split.left_a_core is True and calls == [1]
    split.restore()
    assert calls == [1, 2]


def test_the_split_is_left_alone_with_omp_num_threads_or_one_core(monkeypatch):
    split, calls = _split(monkeypatch, 1)
    _run(split, forward_s=0.01, io_s=1.0)
    assert split.left_a_core is None and calls == []
    split, calls = _split(monkeypatch, 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    from darkpy.detect import overlap

    split = overlap.CoreSplit(settle=2, cores=2)
    _run(split, forward_s=0.01, io_s=1.0)
    assert split.left_a_core is None and calls == []


def test_reader_and_writer_threads_are_metered():
    from darkpy.detect.overlap import IO_METER, BackgroundWriter, prefetch

    def busy(n=200_000):
        return sum(range(n))

    before = IO_METER.seconds
    assert list(prefetch(busy() for _ in range(3))) == [busy()] * 3
    with BackgroundWriter() as w:
        w.submit(busy)
    assert IO_METER.seconds > before
