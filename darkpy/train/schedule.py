"""Darknet's learning-rate schedules (`get_current_rate` in Darknet's network.c).

`learning_rate(net, batch_num)` reproduces Darknet's value bit for bit in float32: Darknet keeps
the configured rates as C floats, divides the batch number in float, raises with the double
`pow`, and returns a float. We do the same arithmetic with numpy scalars.

`batch_num` is Darknet's `get_current_batch`: images seen / (mini-batch * subdivisions), i.e.
the number of optimiser steps already taken (see `current_batch`).

Policies (after the burn-in, which always comes first when `batch_num < burn_in`):

- burn-in: `lr * (batch_num / burn_in) ** power`
- constant: `lr`
- step: `lr * scale ** (batch_num // step)`
- steps: `lr` multiplied by every `scales[i]` whose `steps[i] <= batch_num` (cumulative)
- exp: `lr * gamma ** batch_num`
- poly: `lr * (1 - batch_num / max_batches) ** power` -- no clamp at max_batches: Darknet's
  formula keeps going (positive again for even powers, NaN for fractional ones)
- sig / sigmoid: `lr / (1 + exp(gamma * (batch_num - step)))`
- random: `lr * u ** power` with u uniform in [0, 1); pass `rng` (a `numpy.random.Generator`)
  to make it reproducible. Darknet draws from C's `rand()`, which we cannot reproduce.
"""
from __future__ import annotations

import math

import numpy as np

from darkpy.net.netconfig import NetConfig

_f32 = np.float32


def images_per_step(net: NetConfig) -> int:
    """Darknet's `net->batch * net->subdivisions`: images accumulated into one optimiser step."""
    return net.mini_batch * max(1, net.subdivisions)


def current_batch(net: NetConfig, seen: int) -> int:
    """Darknet's `get_current_batch`: optimiser steps taken after `seen` images."""
    return int(seen) // images_per_step(net)


def _pow(base, exponent) -> float:
    """C's double `pow` (NaN, not an exception, for a negative base and fractional exponent)."""
    with np.errstate(all="ignore"):
        return float(np.power(np.float64(base), np.float64(exponent)))


def _out(lr, factor: float) -> float:
    """float learning_rate times a double factor, returned as C float."""
    return float(_f32(np.float64(_f32(lr)) * np.float64(factor)))


def learning_rate(net: NetConfig, batch_num: int, rng: np.random.Generator | None = None) -> float:
    """The learning rate Darknet uses for the update after `batch_num` steps (see module doc)."""
    b = int(batch_num)
    lr = _f32(net.learning_rate)
    power = _f32(net.power)
    if b < net.burn_in:
        return _out(lr, _pow(_f32(_f32(b) / _f32(net.burn_in)), power))
    policy = net.policy
    if policy == "constant":
        return float(lr)
    if policy == "step":
        return _out(lr, _pow(_f32(net.scale), b // max(1, net.step)))
    if policy == "steps":
        rate = lr
        for step, scale in zip(net.steps, net.scales):
            if step > b:
                break
            rate = _f32(rate * _f32(scale))
        return float(rate)
    if policy == "exp":
        return _out(lr, _pow(_f32(net.gamma), b))
    if policy == "poly":
        return _out(lr, _pow(_f32(_f32(1) - _f32(_f32(b) / _f32(net.max_batches))), power))
    if policy == "random":
        u = (rng if rng is not None else np.random.default_rng()).random()
        return _out(lr, _pow(u, power))
    if policy in ("sig", "sigmoid"):
        return _out(lr, 1.0 / (1.0 + math.exp(float(_f32(net.gamma)) * (b - net.step))))
    raise ValueError(f"unknown learning-rate policy {policy!r}")
