"""The optimiser and learning rate the engine uses once per batch.

Darknet's update (`darkpy.train.sgd.DarknetSGD`: momentum, decay on conv/connected weights only, the
rate divided by `batch`) at the rate of Darknet's schedule (`darkpy.train.schedule.learning_rate`) for
the batch number *after* the batch's images are counted -- Darknet adds a mini-batch to `seen`
before its forward pass, so the first update uses batch number 1.
"""
from __future__ import annotations

import numpy as np
from torch import nn

from darkpy.net.netconfig import NetConfig
from darkpy.train.sgd import DarknetSGD
from darkpy.train.schedule import images_per_step, learning_rate


def make_optimizer(model: nn.Module, net: NetConfig) -> DarknetSGD:
    return DarknetSGD.for_network(model, net)


def current_rate(net: NetConfig, batch_num: int, seed: int = 0) -> float:
    """Darknet's `get_current_rate`; the 'random' policy draws from a stream seeded by
    (seed, batch number), so a resumed run draws the same rates."""
    return float(learning_rate(net, batch_num, np.random.default_rng([seed, 104729, batch_num])))


__all__ = ["images_per_step", "make_optimizer", "current_rate"]
