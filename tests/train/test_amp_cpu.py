"""`--amp` on the CPU: bf16 autocast where the CPU multiplies bf16 natively, no loss scaling."""
from __future__ import annotations

import math

import torch

from darkpy.net import precision
from darkpy.net.model import load_network
from darkpy.train import engine
from darkpy.train.engine import Trainer
from toy import ToyTask


def test_amp_dtype_per_device(monkeypatch):
    assert engine.amp_dtype(torch.device("cuda")) == torch.float16  # decided without a GPU
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: True)
    assert engine.amp_dtype(torch.device("cpu")) == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: False)
    assert engine.amp_dtype(torch.device("cpu")) is None


def _train(tmp_path, amp: bool, name: str, tiny_cfg):
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=1, burn_in=0)
    net = load_network(cfg, device="cpu", seed=0)
    tr = Trainer(net, ToyTask(), name="toy", backup_dir=tmp_path / name, device="cpu", max_batches=3, amp=amp,
                 quiet=True, seed=3)
    tr.run()
    return tr


def test_bf16_autocast_trains_close_to_fp32(tmp_path, monkeypatch, tiny_cfg):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: True)
    amp = _train(tmp_path, True, "amp", tiny_cfg)
    assert amp.amp and amp.amp_dtype == torch.bfloat16 and amp.scaler is None
    assert all(p.dtype == torch.float32 for p in amp.net.parameters())  # master weights stay fp32
    ref = _train(tmp_path, False, "fp32", tiny_cfg)
    for (_, a, _), (_, b, _) in zip(amp.history, ref.history):
        assert math.isfinite(a) and abs(a - b) <= 0.05 * max(1.0, abs(b))


def test_amp_without_bf16_falls_back_with_a_warning(tmp_path, monkeypatch, tiny_cfg):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: False)
    tr = _train(tmp_path, True, "nobf16", tiny_cfg)
    assert not tr.amp and tr.amp_requested
