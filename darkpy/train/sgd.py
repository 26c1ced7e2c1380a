"""Darknet's SGD update (`update_network` -> `update_convolutional_layer` / `update_connected_layer`).

Darknet keeps, per parameter tensor, an `updates` buffer into which backward ADDS the negative
gradient of every image of the batch (all subdivisions). Once per batch, with
`B = mini_batch * subdivisions` (Darknet's `net->batch * net->subdivisions`) and `lr` the rate of
`darkpy.train.schedule.learning_rate`:

    weights only:   updates -= decay * B * w
    all parameters: w += lr / B * updates
                    updates *= momentum

Weight decay applies only to the `weight` tensors of convolutional and connected layers; biases
and batch-norm scales are updated without decay. Region anchors are not trained.

`DarknetSGD` does exactly this. Convention: `p.grad` holds the gradient of the loss SUMMED over
every image of the batch (call `backward()` once per subdivision without dividing, as
`RegionLoss.loss` is a sum). Mathematically the same update is `torch.optim.SGD(lr=lr,
momentum=momentum, dampening=0, weight_decay=decay (weights) or 0 (others))` fed with the
gradient divided by `B` (its momentum buffer is `-updates / B`); DarknetSGD keeps Darknet's
order of float operations instead.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from darkpy.net.netconfig import NetConfig
from darkpy.train.schedule import images_per_step

DECAY_LAYER_TYPES = ("convolutional", "connected")


def darknet_param_groups(network) -> list[dict]:
    """Split a darkpy `Network`'s parameters the way Darknet's update treats them: a group with
    weight decay (conv/connected `weight`) and one without (biases, batch-norm scales, anything
    else). A layer attribute `learning_rate_scale` (Darknet's per-layer `learning_rate=`), when
    present, becomes the group's `lr_scale`."""
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for layer in network.layers:
        scale = float(getattr(layer, "learning_rate_scale", 1.0))
        decayed_type = getattr(layer, "type_name", "") in DECAY_LAYER_TYPES or \
            getattr(layer, "section_name", "") in DECAY_LAYER_TYPES
        for name, p in layer.named_parameters():
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            decay = decayed_type and name.rsplit(".", 1)[-1] == "weight"
            groups.setdefault((decay, scale), []).append(p)
    return [{"params": ps, "weight_decay": decay, "lr_scale": scale}
            for (decay, scale), ps in groups.items()]


class DarknetSGD(torch.optim.Optimizer):
    """Darknet's momentum SGD with its `updates` buffers (see module doc).

    Param-group keys: `lr` (set it from the schedule each step, or pass `lr=` to `step`),
    `momentum`, `decay`, `batch` (B), `weight_decay` (bool: does this group get decay),
    `lr_scale` (per-layer learning-rate factor), `clip` (Darknet's `[net] clip`: clamp the
    parameters to [-clip, clip] after the update when > 0)."""

    def __init__(self, params: Iterable, lr: float = 0.001, momentum: float = 0.9, decay: float = 0.0001,
                 batch: int = 1, clip: float = 0.0):
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        defaults = dict(lr=lr, momentum=momentum, decay=decay, batch=int(batch), weight_decay=True,
                        lr_scale=1.0, clip=clip)
        super().__init__(params, defaults)

    @classmethod
    def for_network(cls, network, net: NetConfig | None = None) -> "DarknetSGD":
        """Optimiser over a darkpy `Network` with its `[net]` momentum, decay, B and clip, and
        Darknet's decay split (`darknet_param_groups`)."""
        net = net if net is not None else network.net
        return cls(darknet_param_groups(network), lr=net.learning_rate, momentum=net.momentum,
                   decay=net.decay, batch=images_per_step(net), clip=net.clip)

    def set_rate(self, lr: float) -> None:
        for group in self.param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def step(self, closure=None, lr: float | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if lr is not None:
            self.set_rate(lr)
        f32 = np.float32
        for group in self.param_groups:
            batch = int(group["batch"])
            rate = f32(f32(group["lr"]) * f32(group["lr_scale"]))
            step_alpha = float(f32(rate / f32(batch)))           # C: learning_rate / batch in float
            decay_alpha = float(f32(-f32(group["decay"]) * f32(batch)))
            momentum = float(f32(group["momentum"]))
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "updates" not in state:
                    state["updates"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                u = state["updates"]
                u.sub_(p.grad)
                if group["weight_decay"] and group["decay"]:
                    u.add_(p, alpha=decay_alpha)
                p.add_(u, alpha=step_alpha)
                u.mul_(momentum)
                if group["clip"]:
                    p.clamp_(-group["clip"], group["clip"])
        return loss
