"""Forward passes on parallel lanes (darkpy.detect.lanes)."""
from __future__ import annotations

import random
import threading
import time

import pytest
import torch

from darkpy.detect import lanes as lanes_mod
from darkpy.detect.lanes import ForwardLanes


def test_results_come_back_in_order_whatever_finishes_first():
    rng = random.Random(0)
    delays = [rng.random() * 0.01 for _ in range(40)]

    def work(i):
        time.sleep(delays[i])
        return i * i, threading.current_thread().name

    out = list(ForwardLanes(3, 1).map(work, range(40)))
    assert [r for r, _ in out] == [i * i for i in range(40)]
    assert {name for _, name in out} <= {f"darkpy-lane_{k}" for k in range(3)}


def test_lanes_run_on_their_own_thread_count_and_the_caller_keeps_its_own():
    before = torch.get_num_threads()
    seen = list(ForwardLanes(2, 1).map(lambda _: torch.get_num_threads(), range(6)))
    assert seen == [1] * 6
    assert torch.get_num_threads() == before


def test_opencv_runs_single_threaded_beside_the_lanes_and_gets_its_pool_back():
    import cv2

    before = cv2.getNumThreads()
    seen = list(ForwardLanes(2, 1).map(lambda _: cv2.getNumThreads(), range(4)))
    assert seen == [1] * 4
    assert cv2.getNumThreads() == before


def test_an_error_is_raised_where_its_result_would_come():
    def work(i):
        if i == 3:
            raise ValueError("bad item 3")
        return i

    got = []
    with pytest.raises(ValueError, match="bad item 3"):
        for r in ForwardLanes(2, 1).map(work, range(10)):
            got.append(r)
    assert got == [0, 1, 2]


def test_stopping_early_does_not_run_everything():
    started = []

    def work(i):
        started.append(i)
        time.sleep(0.01)
        return i

    it = ForwardLanes(2, 1).map(work, range(100))
    assert next(it) == 0
    it.close()
    assert len(started) <= 4      # the lanes' items and the one handed out ahead


def test_lanes_only_where_torch_owns_every_core(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(lanes_mod, "usable_cores", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    lanes = ForwardLanes.for_machine("cpu")
    assert (lanes.lanes, lanes.threads) == (2, 1)
    assert ForwardLanes.for_machine("cuda") is None
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)     # the user asked for fewer threads
    assert ForwardLanes.for_machine("cpu") is None
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert ForwardLanes.for_machine("cpu") is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(lanes_mod, "usable_cores", lambda: 1)
    assert ForwardLanes.for_machine("cpu") is None


def test_a_folder_on_lanes_gives_the_same_results(monkeypatch, request):
    """Packed convolutions give the same numbers at any thread count, so the lanes (1 thread
    each) and one pass on every core agree bit for bit."""
    from darkpy.detect.detector import Detector
    from darkpy.detect.options import DetectOptions

    root = request.config.rootpath
    images = (sorted(str(p) for p in (root / "data" / "demo" / "images").glob("*.jpg")) * 2)[:22]   # 11 batches
    det = Detector(root / "cfg" / "demo.cfg", root / "data" / "demo" / "demo.weights",
                   DetectOptions(thresh=0.1, batch=2, device="cpu"))
    calls = []
    real = ForwardLanes.for_machine.__func__

    def forced(cls, device_type="cpu"):
        calls.append(device_type)
        return cls(2, 1)

    monkeypatch.setattr(ForwardLanes, "for_machine", classmethod(forced))
    sizes = []
    real_run = det.run_prepared

    def spy(x, *args, **kwargs):
        sizes.append(x.shape[0])
        return real_run(x, *args, **kwargs)

    monkeypatch.setattr(det, "run_prepared", spy)
    on_lanes = det.detect(images)
    assert calls == ["cpu"]
    assert sorted(sizes) == [1, 1] + [2] * 10     # the 11th batch of 2 split between the 2 lanes
    monkeypatch.setattr(det, "run_prepared", real_run)
    monkeypatch.setattr(ForwardLanes, "for_machine", classmethod(lambda cls, d="cpu": None))
    one_pass = det.detect(images)
    monkeypatch.setattr(ForwardLanes, "for_machine", classmethod(real))
    assert len(on_lanes) == len(images) > 4
    assert [r.source for r in on_lanes] == [r.source for r in one_pass] == images
    for a, b in zip(on_lanes, one_pass):
        assert (a.rel_boxes == b.rel_boxes).all() and (a.probs == b.probs).all()
        assert (a.objectness == b.objectness).all()


def test_the_last_batch_is_split_when_the_batches_do_not_divide_among_the_lanes():
    lanes = ForwardLanes(2, 1)
    batches = [[1, 2], [3, 4], [5, 6]]
    assert list(lanes.balanced(iter(batches), 3)) == [[1, 2], [3, 4], [5], [6]]
    assert list(lanes.balanced(iter(batches[:2]), 2)) == [[1, 2], [3, 4]]        # even: as they are
    assert list(lanes.balanced(iter([[1, 2], [3]]), 2)) == [[1, 2], [3]]
    assert list(lanes.balanced(iter([[1, 2], [3, 4], [5]]), 3)) == [[1, 2], [3, 4], [5]]
    assert list(lanes.balanced(iter(batches[:2]), 3)) == [[1, 2], [3, 4]]        # fewer than expected
