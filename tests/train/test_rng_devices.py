"""Issue 25: a backup holds the RNG state of the GPU the process trained on only, so it resumes on
a machine with a different number of GPUs (torch.cuda monkeypatched: no GPU here)."""
from __future__ import annotations

import torch

from darkpy.net.model import load_network
from darkpy.train.distributed import DistInfo
from darkpy.train.engine import Trainer
from toy import ToyTask, toy_cfg


def _trainer(tmp_path, monkeypatch, local_rank: int = 0):
    calls: dict = {"set": []}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": torch.tensor([7, device.index]))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": calls["set"].append(
        (state.tolist(), device)))
    monkeypatch.setattr(torch.cuda, "get_rng_state_all",
                        lambda: (_ for _ in ()).throw(AssertionError("every GPU's state asked for")))
    tr = Trainer(load_network(toy_cfg(tmp_path), device="cpu"), ToyTask(), name="t", backup_dir=tmp_path,
                 device="cpu", quiet=True, backups=False)
    tr.dist = DistInfo(local_rank, 4, local_rank, "nccl") if local_rank else tr.dist
    tr.device = torch.device("cuda", 2 + local_rank)
    return tr, calls


def test_saves_only_the_training_gpu(tmp_path, monkeypatch):
    tr, _ = _trainer(tmp_path, monkeypatch)
    assert tr._device_rng_state().tolist() == [7, 2]


def test_restores_on_its_own_gpu_whatever_saved_it(tmp_path, monkeypatch):
    tr, calls = _trainer(tmp_path, monkeypatch, local_rank=1)
    tr._restore_device_rng(torch.tensor([7, 0]))            # written on another machine's GPU 0
    assert calls["set"] == [([7, 0], torch.device("cuda", 3))]
    calls["set"].clear()
    old = [torch.tensor([i, i]) for i in range(8)]          # an older backup: every GPU of an 8-GPU box
    tr._restore_device_rng(old)
    assert calls["set"] == [([1, 1], torch.device("cuda", 3))]
    calls["set"].clear()
    tr._restore_device_rng(old[:1])                         # fewer saved than this rank: the last one
    tr._restore_device_rng(None)                            # written on a CPU run: nothing to restore
    assert calls["set"] == [([0, 0], torch.device("cuda", 3))]


def test_cpu_runs_save_none(tmp_path, monkeypatch):
    tr = Trainer(load_network(toy_cfg(tmp_path), device="cpu"), ToyTask(), name="t", backup_dir=tmp_path,
                 device="cpu", quiet=True, backups=False)
    assert tr._device_rng_state() is None
    tr._restore_device_rng([torch.tensor([1])])             # a GPU backup resumed on a CPU: ignored
