"""The trainer keeps freed memory between CPU steps (darkpy.heap)."""
from __future__ import annotations


def test_the_trainer_asks_for_it_when_it_trains_on_the_cpu(monkeypatch, tmp_path, tiny_cfg):
    from darkpy.net.model import load_network
    from darkpy.train import engine
    from toy import ToyTask

    calls = []
    monkeypatch.setattr(engine, "keep_freed_memory", lambda: calls.append(1) or True)
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=0, burn_in=0)
    engine.Trainer(load_network(cfg, device="cpu", seed=0), ToyTask(), name="toy", backup_dir=tmp_path / "b",
                   device="cpu", max_batches=1, quiet=True).run()
    assert calls == [1]
