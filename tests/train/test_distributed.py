"""DDP on the CPU (gloo): 2 processes give the weights 1 process gives with the same batch.

The cfg has no batch norm: with batch norm each rank normalises its own mini-batch, which equals
the single process only when the single process's mini-batches are the ranks' (here they are:
batch 4 in 2 subdivisions vs 2 ranks x 2 images), but the rolling statistics would still follow
rank 0 only (DDP broadcasts rank 0's buffers). Without batch norm every float in the file must
match, up to the order of the gradient sum.
"""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.net.model import load_network
from darkpy.train import distributed as dd
from toy import ddp_rank


def _floats(path):
    return np.fromfile(path, dtype=np.float32, offset=20)


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path, tiny_cfg):
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=0, burn_in=0)
    ddp_rank(dd.SINGLE, str(cfg), str(tmp_path / "one"), 3)
    dd.launch(ddp_rank, 2, (str(cfg), str(tmp_path / "two"), 3), backend="gloo")
    one = tmp_path / "one" / "toy_final.weights"
    two = tmp_path / "two" / "toy_final.weights"
    assert one.read_bytes()[:20] == two.read_bytes()[:20]       # same header: seen = 3 batches x 4
    a, b = _floats(one), _floats(two)
    start = _floats_start(cfg)
    assert not np.allclose(a, start)                              # training moved the weights
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _floats_start(cfg):
    net = load_network(cfg, device="cpu", seed=0)
    import torch

    return np.concatenate([p.detach().reshape(-1).numpy() for l in net.layers for p in
                           ([l.bias, l.weight] if hasattr(l, "weight") else [])])


@pytest.mark.slow
def test_a_stop_on_one_rank_stops_all_after_the_same_batch(tmp_path, tiny_cfg):
    """Rank 1 alone asks to stop after batch 2; the flag travels with the batch statistics, so
    both ranks leave after batch 3 (no rank left waiting in a collective) and rank 0 saves."""
    cfg = tiny_cfg(tmp_path, "toy", batch=4, subdivisions=2, bn=0, burn_in=0)
    dd.launch(ddp_rank, 2, (str(cfg), str(tmp_path / "two"), 10, 3, 2), backend="gloo")
    from darkpy.train import backup as bk

    assert bk.state_path(tmp_path / "two", "toy").exists()
    assert not (tmp_path / "two" / "toy_final.weights").exists()


def test_the_run_lets_go_of_the_process_group_before_the_exit():
    """DDP's reducer (and a hook's own group) would otherwise keep the process group alive until
    the interpreter's exit, where a rank can abort in a C++ destructor after a clean run."""
    import gc
    import weakref

    from darkpy.train.engine import Trainer
    from darkpy.train.map_hook import MapHook

    class Wrapper:
        pass

    hook = MapHook(None, 10, images=1)
    hook._group = Wrapper()
    group = weakref.ref(hook._group)
    trainer = Wrapper()
    trainer.dist, trainer.net, trainer.hooks = dd.DistInfo(0, 2, 0, "gloo"), Wrapper(), [hook]
    trainer.ddp_module = Wrapper()
    ddp = weakref.ref(trainer.ddp_module)
    trainer.proxy = dd.NetProxy(trainer.net, trainer.ddp_module)
    Trainer._release_group(trainer)
    gc.collect()
    assert ddp() is None and group() is None
    assert trainer.ddp_module is None and trainer.proxy._ddp is None
