"""Issue 25: each training process on its own GPU, decided once (`darkpy.train.placement`).

No GPU here: `torch.cuda` is monkeypatched to a 4-GPU machine that records which device each
process makes current, what the process group and DDP get and where the loader pins."""
from __future__ import annotations

import pytest
import torch

from darkpy.errors import UsageError
from darkpy.train import distributed as dd
from darkpy.train import placement
from darkpy.train.distributed import DistInfo


class FakeCuda:
    def __init__(self, count: int = 4):
        self.count = count
        self.current = 0
        self.set_calls: list[torch.device] = []

    def set_device(self, device):
        device = torch.device(device) if not isinstance(device, int) else torch.device("cuda", device)
        self.set_calls.append(device)
        self.current = device.index


@pytest.fixture
def gpus4(monkeypatch):
    fake = FakeCuda(4)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: fake.count)
    monkeypatch.setattr(torch.cuda, "set_device", fake.set_device)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: fake.current)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    return fake


def ranks(world: int):
    return [DistInfo(r, world, r, "nccl") for r in range(world)]


@pytest.mark.parametrize("spec", ["cuda", None, "auto"])
def test_torchrun_bare_cuda_puts_rank_r_on_gpu_r(gpus4, spec):
    for info in ranks(4):
        dev = placement.rank_device(info, spec)
        assert dev == torch.device("cuda", info.local_rank)
        assert gpus4.set_calls[-1] == dev and gpus4.current == info.local_rank


def test_gpus_list_maps_ranks_to_listed_gpus(gpus4, monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    got = [placement.rank_device(info, None, (2, 3)) for info in ranks(2)]
    assert got == [torch.device("cuda", 2), torch.device("cuda", 3)]
    assert gpus4.set_calls == got


def test_gpus_count_must_match_processes(gpus4, monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    with pytest.raises(UsageError, match=r"lists 2 GPU\(s\) for 4 process\(es\)"):
        placement.rank_device(ranks(4)[0], None, (2, 3))


def test_index_beyond_device_count_is_one_line(gpus4):
    with pytest.raises(UsageError, match=r"GPU 7 asked for, but this machine has 4 CUDA device\(s\) \(0..3\)"):
        placement.rank_device(DistInfo(), "cuda:7")
    with pytest.raises(UsageError, match="GPU 5"):
        placement.check_gpus((1, 5))
    with pytest.raises(UsageError, match="twice"):
        placement.check_gpus((1, 1))
    gpus4.count = 2
    with pytest.raises(UsageError, match="local rank 3"):
        placement.rank_device(ranks(4)[3], "cuda")
    assert gpus4.set_calls == []


def test_one_gpu_for_every_process_is_refused(gpus4):
    with pytest.raises(UsageError, match="all 4 processes on GPU 1"):
        placement.rank_device(ranks(4)[2], "cuda:1")


def test_one_visible_gpu_per_process_is_that_gpu(gpus4):
    gpus4.count = 1  # a scheduler set CUDA_VISIBLE_DEVICES per process
    assert placement.rank_device(ranks(4)[3], "cuda") == torch.device("cuda", 0)


def test_cpu_sets_nothing(gpus4):
    assert placement.rank_device(ranks(2)[1], "cpu") == torch.device("cpu")
    assert gpus4.set_calls == []
    with pytest.raises(UsageError, match="exclude"):
        placement.rank_device(ranks(2)[1], "cpu", (0, 1))


def test_process_group_and_ddp_get_the_rank_device(gpus4, monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(dd.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dd.elastic, "group_options", lambda rank, world, timeout=None: {})  # no store here
    monkeypatch.setattr(dd.dist, "init_process_group",
                        lambda backend, **kw: seen.update(backend=backend, current=gpus4.current, **kw))
    info = ranks(4)[2]
    dev = placement.rank_device(info, "cuda")
    dd.init(info, device=dev)
    assert seen["device_id"] == torch.device("cuda", 2) and seen["current"] == 2 and seen["rank"] == 2

    import torch.nn.parallel as par

    class FakeDDP(torch.nn.Module):
        def __init__(self, module, device_ids=None):
            super().__init__()
            seen["device_ids"] = device_ids

    monkeypatch.setattr(par, "DistributedDataParallel", FakeDDP)
    dd.wrap(torch.nn.Linear(1, 1), info, dev)
    assert seen["device_ids"] == [2]


def test_cpu_process_group_gets_no_device_id(monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(dd.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dd.elastic, "group_options", lambda rank, world, timeout=None: {})  # no store here
    monkeypatch.setattr(dd.dist, "init_process_group", lambda backend, **kw: seen.update(kw))
    dd.init(DistInfo(0, 2, 0, "gloo"), device=torch.device("cpu"))
    assert "device_id" not in seen


def _torchrun_env(monkeypatch, rank: int, world: int):
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(world))
    monkeypatch.setenv("DARKPY_DIST_BACKEND", "nccl")


def _record_init(monkeypatch, gpus4, log: dict):
    def init(info, timeout=None, device=None, *a, **k):
        log["init"] = (device, gpus4.current)

    monkeypatch.setattr(dd, "init", init)
    monkeypatch.setattr(dd, "shutdown", lambda *a, **k: None)
    monkeypatch.setattr(dd.elastic, "watch_agent", lambda *a, **k: None)  # no torchrun agent here


@pytest.mark.parametrize("gpus,expect", [((), [0, 1]), ((3, 1), [3, 1])])
def test_detection_under_torchrun(gpus4, monkeypatch, gpus, expect):
    from darkpy.train.detection import train as dtrain

    for rank in range(2):
        log: dict = {}
        _torchrun_env(monkeypatch, rank, 2)
        _record_init(monkeypatch, gpus4, log)
        monkeypatch.setattr(dtrain, "_run_rank", lambda info, opts: log.update(
            device=dtrain._device(info, opts)))
        dtrain.train_detector(dtrain.TrainOptions(data="x.data", cfg="x.cfg", device="cuda", gpus=gpus))
        want = torch.device("cuda", expect[rank])
        assert log["init"] == (want, expect[rank])      # current before the group forms
        assert log["device"] == want


@pytest.mark.parametrize("gpus,expect", [(None, [0, 1]), ([2, 0], [2, 0])])
def test_classifier_under_torchrun_honours_gpus(gpus4, monkeypatch, gpus, expect):
    from darkpy.train.classifier import train as ctrain

    for rank in range(2):
        log: dict = {}
        _torchrun_env(monkeypatch, rank, 2)
        _record_init(monkeypatch, gpus4, log)
        monkeypatch.setattr(ctrain, "train_classifier", lambda **kw: log.update(device=kw["device"]))
        ctrain.run_training(gpus=gpus, data="x", cfg="y")
        want = torch.device("cuda", expect[rank])
        assert log["init"] == (want, expect[rank]) and log["device"] == want


@pytest.mark.parametrize("which", ["detection", "classifier"])
def test_gpus_launch_places_each_spawned_rank(gpus4, monkeypatch, which):
    """`--gpus 3,1`: the launcher's `place` puts spawned rank r on the r-th listed GPU."""
    from darkpy.train.classifier import train as ctrain
    from darkpy.train.detection import train as dtrain

    launched: dict = {}
    monkeypatch.setattr(dd, "launch", lambda fn, n, args=(), backend="gloo", timeout=None, place=None:
                        launched.update(n=n, backend=backend, place=place))
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    if which == "detection":
        dtrain.train_detector(dtrain.TrainOptions(data="x.data", cfg="x.cfg", gpus=(3, 1)))
    else:
        ctrain.run_training(gpus=[3, 1], data="x", cfg="y")
    assert launched["n"] == 2 and launched["backend"] == "nccl"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert [launched["place"](info) for info in ranks(2)] == [torch.device("cuda", 3), torch.device("cuda", 1)]
    assert [d.index for d in gpus4.set_calls] == [3, 1]


def test_detection_loader_pins_on_the_rank_gpu(gpus4, monkeypatch):
    """The pin-memory thread pins on the device current when the loader starts: the rank's."""
    from darkpy.train.detection import task as dtask

    pinned: dict = {}

    class FakeLoader:
        def __init__(self, source, requests, workers, pin_memory=False):
            pinned.update(pin=pin_memory, current=torch.cuda.current_device())

        def __iter__(self):
            return iter(())

        def close(self):
            pass

    monkeypatch.setattr(dtask, "RequestLoader", FakeLoader)

    class T:
        pass

    task = object.__new__(dtask.DetectionTask)
    task.loader, task.source, task.workers = None, None, 0
    task.trainer = T()
    task.trainer.device = placement.rank_device(ranks(4)[3], "cuda")
    task._requests = lambda start: (lambda: iter(()))
    task._start(0)
    assert pinned == {"pin": True, "current": 3}
