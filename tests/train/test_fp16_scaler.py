"""Issue 25: fp16 loss scaling starts at Darknet's loss scale, and an update GradScaler skips
(inf/NaN gradients) is counted in the progress line, not lost silently. Runs on the CPU with
fp16 autocast standing in for CUDA's."""
from __future__ import annotations

import torch

from darkpy.net.model import load_network
from darkpy.train import engine
from darkpy.train.engine import Hook, Trainer, make_scaler
from toy import ToyTask, toy_cfg


class OverflowAt(ToyTask):
    """The toy loss, infinite in batch `bad` (as a fp16 gradient overflow makes it)."""

    def __init__(self, bad: int):
        self.bad = bad

    def loss(self, net, images, targets, seen):
        report = super().loss(net, images, targets, seen)
        if (seen - 1) // 4 == self.bad:
            report.loss = report.loss * float("inf")
        return report


def test_init_scale_is_the_cfg_loss_scale(tmp_path):
    cfg = toy_cfg(tmp_path)
    net = load_network(cfg, device="cpu")
    assert make_scaler(torch.device("cpu"), net.net).get_scale() == 1.0   # AlexeyAB's default
    text = cfg.read_text().replace("[net]\n", "[net]\nloss_scale=128\n", 1)
    cfg.write_text(text)
    assert make_scaler(torch.device("cpu"), load_network(cfg, device="cpu").net).get_scale() == 128.0


def test_skipped_fp16_updates_are_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "amp_dtype", lambda device: torch.float16)
    net = load_network(toy_cfg(tmp_path, batch=4, subdivisions=2, burn_in=0), device="cpu", seed=0)
    weights: list[torch.Tensor] = []
    lines: list[str] = []
    hook = Hook(1, lambda t: (weights.append(t.net.blocks[0].weight.detach().clone()),
                              lines.append(t.progress_line(t.last))))
    tr = Trainer(net, OverflowAt(bad=1), name="toy", backup_dir=tmp_path / "b", device="cpu", max_batches=3,
                 amp=True, quiet=True, seed=3, hooks=[hook], backups=False)
    tr.run()
    assert tr.scaler is not None and tr.skipped_steps == 1
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
    assert "fp16 skipped" not in lines[0]
    assert ", 1 fp16 skipped" in lines[1] and ", 1 fp16 skipped" in lines[2]
    assert tr.scaler.get_scale() == 0.5   # halved once from 1
    assert "fp16-skip" in tr.warnings


def test_fp32_training_on_cuda_turns_tf32_off(monkeypatch):
    """`--precision fp32` / training without --amp: TF32 off (set through torch's flags; no GPU)."""
    from darkpy.net import precision

    conv = torch.backends.cudnn.conv
    matmul = torch.backends.cuda.matmul
    saved = (conv.fp32_precision, matmul.fp32_precision)
    try:
        assert precision.strict_fp32(torch.device("cpu")) is False
        assert precision.strict_fp32(torch.device("cuda", 1)) is True
        assert (conv.fp32_precision, matmul.fp32_precision) == ("ieee", "ieee")
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved
