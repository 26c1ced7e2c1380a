"""[convolutional]: convolution, Darknet-style batch normalisation, bias, activation."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from darkpy.net.layers.activations import ACTIVATIONS
from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import BN_EPS, ConvSpec



def darknet_batchnorm(y: torch.Tensor, scales: torch.Tensor, biases: torch.Tensor, rolling_mean: torch.Tensor,
                      rolling_variance: torch.Tensor, training: bool, momentum: float = 0.01) -> torch.Tensor:
    """Batch norm as Darknet computes it.

    Training uses the batch mean and the *unbiased* batch variance and moves the rolling
    statistics by 1% per step; testing uses the rolling statistics. Both divide by
    sqrt(var) + 1e-6. Works for (N, C, H, W) and (N, C)."""
    dims = [0] + list(range(2, y.dim()))
    view = [1, -1] + [1] * (y.dim() - 2)
    if training:
        count = y.numel() // y.shape[1]
        mean = y.mean(dim=dims)
        var = y.var(dim=dims, unbiased=count > 1)
        with torch.no_grad():
            rolling_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
            rolling_variance.mul_(1 - momentum).add_(var.detach(), alpha=momentum)
    else:
        mean, var = rolling_mean, rolling_variance
    y = (y - mean.view(view)) / (var.sqrt().view(view) + BN_EPS)
    return y * scales.view(view) + biases.view(view)


def add_affine_params(layer: nn.Module, weight_shape: tuple[int, ...], batch_normalize: bool) -> None:
    """Conv and connected layers hold the same parameters (weight, one bias per output, and
    Darknet's batch-norm scales and rolling statistics); registered in one order so state dicts
    and optimiser groups keep their order."""
    n = weight_shape[0]
    layer.weight = nn.Parameter(torch.empty(weight_shape))
    layer.bias = nn.Parameter(torch.zeros(n))
    if batch_normalize:
        layer.scales = nn.Parameter(torch.ones(n))
        layer.register_buffer("rolling_mean", torch.zeros(n))
        layer.register_buffer("rolling_variance", torch.ones(n))


def init_affine(layer: Layer, fan_in: int, generator: torch.Generator | None) -> None:
    """Darknet's start: weights uniform in +-sqrt(2 / fan_in), zero biases, unit scales."""
    bound = math.sqrt(2.0 / fan_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.zero_()
        if layer.batch_normalize:
            layer.scales.fill_(1.0)
            layer.rolling_mean.zero_()
            layer.rolling_variance.fill_(1.0)


@register(ConvSpec)
class Convolutional(Layer):
    def __init__(self, spec: ConvSpec):
        super().__init__(spec)
        self.activation = ACTIVATIONS[spec.activation_name]
        shapes = dict(spec.weight_layout())
        add_affine_params(self, shapes["weights"], spec.batch_normalize)

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        y = F.conv2d(x, self.weight, None, self.stride, self.padding, 1, self.groups)
        if self.batch_normalize:
            if y.dtype in (torch.bfloat16, torch.float16):  # autocast: statistics in float32, as AMP's BN
                y = y.float()
            y = darknet_batchnorm(y, self.scales, self.bias, self.rolling_mean, self.rolling_variance, self.training)
        else:
            y = y + self.bias.view(1, -1, 1, 1)
        return self.activation(y)

    def init_weights(self, generator=None) -> None:
        init_affine(self, self.size * self.size * self.in_shape[0] // self.groups, generator)
