"""Darknet's activation functions by cfg name (activations.c semantics)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from darkpy.net.spec import ACTIVATION_NAMES

Activation = Callable[[torch.Tensor], torch.Tensor]


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


def _relie(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, x, 0.01 * x)


def _ramp(x: torch.Tensor) -> torch.Tensor:
    return x * (x > 0) + 0.1 * x


def _plse(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x < -4, 0.01 * (x + 4), torch.where(x > 4, 0.01 * (x - 4) + 1, 0.125 * x + 0.5))


def _stair(x: torch.Tensor) -> torch.Tensor:
    n = torch.floor(x)
    return torch.where(torch.remainder(n, 2) == 0, torch.floor(x / 2), (x - n) + torch.floor(x / 2))


def _lhtan(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x < 0, 0.001 * x, torch.where(x > 1, 0.001 * (x - 1) + 1, x))


ACTIVATIONS: dict[str, Activation] = {
    "linear": lambda x: x,
    "logistic": torch.sigmoid,
    "loggy": lambda x: 2 * torch.sigmoid(x) - 1,
    "relu": F.relu,
    "relu6": lambda x: F.relu6(x),
    "elu": F.elu,
    "selu": F.selu,
    "relie": _relie,
    "ramp": _ramp,
    "leaky": _leaky,
    "tanh": torch.tanh,
    "plse": _plse,
    "stair": _stair,
    "hardtan": lambda x: torch.clamp(x, -1, 1),
    "lhtan": _lhtan,
    "mish": lambda x: x * torch.tanh(F.softplus(x)),
    "swish": lambda x: x * torch.sigmoid(x),
    "gelu": F.gelu,
}

if set(ACTIVATIONS) != set(ACTIVATION_NAMES):  # pragma: no cover - the spec stage validates against these names
    raise RuntimeError("darkpy.net.spec.ACTIVATION_NAMES and ACTIVATIONS disagree")
