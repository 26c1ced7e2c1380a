"""The optimiser step the engine takes once per batch, as Darknet's `update_network` does it.

Darknet accumulates the *negative* gradient of the loss summed over the `batch` images of one
step (all subdivisions) into `*_updates`, then for conv/connected layers::

    updates += -decay * batch * weights          (weights only: no decay on biases / BN scales)
    weights += learning_rate / batch * updates
    updates *= momentum

That is exactly `torch.optim.SGD` with `lr = learning_rate / batch`, `weight_decay =
decay * batch` on weights (0 elsewhere), `momentum`, no dampening, no Nesterov. When the `loss`
branch's `darkpy.optim` is present the engine uses it; this module is the engine's own
equivalent and the fallback.
"""
from __future__ import annotations

import torch
from torch import nn

from darkpy.netconfig import NetConfig


def images_per_step(net: NetConfig) -> int:
    """Darknet's `net->batch * net->subdivisions` (the cfg's `batch`, rounded to whole mini-batches)."""
    return net.mini_batch * max(1, net.subdivisions)


def darknet_param_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(decayed, not decayed): Darknet decays conv/connected `weight`s only."""
    decayed, plain = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decayed if name.rsplit(".", 1)[-1] == "weight" else plain).append(p)
    return decayed, plain


class DarknetSGD(torch.optim.SGD):
    """SGD with Darknet's scaling. Call `set_rate(lr)` before each `step()`."""

    def __init__(self, model: nn.Module, net: NetConfig):
        self.batch = images_per_step(net)
        decayed, plain = darknet_param_groups(model)
        groups = [{"params": decayed, "weight_decay": net.decay * self.batch},
                  {"params": plain, "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        super().__init__(groups, lr=net.learning_rate / self.batch, momentum=net.momentum, dampening=0.0,
                         nesterov=False)

    def set_rate(self, learning_rate: float) -> None:
        for g in self.param_groups:
            g["lr"] = learning_rate / self.batch


def make_optimizer(model: nn.Module, net: NetConfig):
    """The `loss` branch's Darknet SGD when available, else `DarknetSGD`. Both expose `set_rate`."""
    try:  # pragma: no cover - depends on the merge state
        from darkpy import optim as _optim  # type: ignore

        factory = getattr(_optim, "darknet_sgd", None) or getattr(_optim, "DarknetSGD", None)
        if factory is not None:
            opt = factory(model, net)
            if hasattr(opt, "set_rate") and hasattr(opt, "state_dict"):
                return opt
    except ImportError:
        pass
    return DarknetSGD(model, net)


def current_rate(net: NetConfig, batch_num: int, seed: int = 0) -> float:
    """Darknet's `get_current_rate` for `batch_num` (the `loss` branch's schedule when present)."""
    import numpy as np

    try:
        from darkpy.schedule import learning_rate  # type: ignore
    except ImportError:  # pragma: no cover
        learning_rate = None
    rng = np.random.default_rng([seed, 104729, batch_num])  # only the 'random' policy draws
    if learning_rate is not None:
        return float(learning_rate(net, batch_num, rng))
    return _fallback_rate(net, batch_num, rng)


def _fallback_rate(net: NetConfig, b: int, rng) -> float:  # pragma: no cover - replaced by darkpy.schedule
    import math

    lr = net.learning_rate
    if b < net.burn_in:
        return lr * (b / net.burn_in) ** net.power
    p = net.policy
    if p == "constant":
        return lr
    if p == "step":
        return lr * net.scale ** (b // max(1, net.step))
    if p == "steps":
        for step, scale in zip(net.steps, net.scales):
            if step > b:
                break
            lr *= scale
        return lr
    if p == "exp":
        return lr * net.gamma ** b
    if p == "poly":
        return lr * (1 - b / net.max_batches) ** net.power
    if p == "random":
        return lr * rng.random() ** net.power
    return lr / (1 + math.exp(net.gamma * (b - net.step)))
