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
        with torch.no_grad():  # the statistics' gradient is part of _TrainingBatchNorm.backward
            count = y.numel() // y.shape[1]
            var, mean, centred = batch_statistics(y, 1 if count > 1 else 0)
            rolling_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            rolling_variance.mul_(1 - momentum).add_(var, alpha=momentum)
        return _TrainingBatchNorm.apply(y, scales, biases, mean, var, centred)
    mean, var = rolling_mean, rolling_variance
    y = (y - mean.view(view)) / (var.sqrt().view(view) + BN_EPS)
    return y * scales.view(view) + biases.view(view)


def _rows(y: torch.Tensor) -> torch.Tensor | None:
    """y as a (values, channels) view, when its layout has one: (N, C), or NCHW in channels_last."""
    if y.dim() == 2 and y.is_contiguous():
        return y
    if y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last):
        return y.permute(0, 2, 3, 1).reshape(-1, y.shape[1])
    return None


def _channel_sums(rows: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """Per-channel float64 sums of a (M, C) float32 view: float32 sums over blocks of `block`
    rows (vectorised across the channels), then float64 over the blocks, which keeps the error
    at the level of a float64 sum for M in the millions."""
    m, c = rows.shape
    whole = m // block
    total = rows.new_zeros(c, dtype=torch.float64)
    if whole:
        total += rows[: whole * block].view(whole, block, c).sum(1).sum(0, dtype=torch.float64)
    if m > whole * block:
        total += rows[whole * block:].sum(0, dtype=torch.float64)
    return total


def batch_statistics(y: torch.Tensor, correction: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(variance, mean, y - mean or None) per channel of a float32 batch, Darknet's two passes
    (the mean, then the mean square of the centred values). On the CPU, for channels_last or 2-D
    activations, as blocked sums over the (values, channels) view: `torch.var_mean` reduces
    those layouts one value at a time (Welford) and took 14% of a yolov2-tiny training step at
    288x288, batch 32; the blocked sums give the same precision (to 1e-7 of a float64 reference,
    tested) in a third of the time, and the centred values are handed on (the forward needs them)."""
    rows = _rows(y) if y.device.type == "cpu" and y.dtype == torch.float32 else None
    if rows is None:
        dims = [0] + list(range(2, y.dim()))
        var, mean = torch.var_mean(y, dim=dims, correction=correction)
        return var, mean, None
    m = rows.shape[0]
    mean = (_channel_sums(rows) / m).to(y.dtype)
    view = [1, -1] + [1] * (y.dim() - 2)
    centred = y - mean.view(view)
    crow = _rows(centred)
    squares = crow * crow
    var = (_channel_sums(squares) / max(1, m - correction)).to(y.dtype)
    return var, mean, centred


class _TrainingBatchNorm(torch.autograd.Function):
    """Darknet's training batch norm, out = scales * (y - mean) / (sqrt(var) + eps) + biases with
    the batch's mean and unbiased variance, as a centring and one per-channel multiply-add
    forward and a hand-derived backward: two per-channel sums and three passes over the activation, where
    autograd's composite of the same formula made about a dozen activation-sized passes and
    temporaries (it was half of a yolov2-tiny training step's CPU time).

    With m values per channel, d = sqrt(var) + eps, g the incoming gradient:
      d out / d y = scales/d * (g - mean(g)) - scales * sum(g (y - mean)) / (d^2 sqrt(var) (m-1)) * (y - mean)
    (the mean's own dependence on y cancels in the variance term). A channel with zero variance
    gets no variance term (its limit), where the composite gave NaN."""

    @staticmethod
    def forward(ctx, y, scales, biases, mean, var, centred=None):
        view = [1, -1] + [1] * (y.dim() - 2)
        d = var.sqrt() + BN_EPS
        a = scales / d
        # centred first, as Darknet does: folding the mean into the bias (y * a + (b - mean * a))
        # loses all precision in channels whose variance is tiny next to their mean
        yc = centred if centred is not None else y - mean.view(view)
        ctx.save_for_backward(yc, scales, var, d)
        return torch.addcmul(biases.view(view), yc, a.view(view))

    @staticmethod
    def backward(ctx, g):
        yc, scales, var, d = ctx.saved_tensors
        dims = [0] + list(range(2, yc.dim()))
        view = [1, -1] + [1] * (yc.dim() - 2)
        m = yc.numel() // yc.shape[1]
        g = g.to(yc.dtype)
        sum_g = g.sum(dim=dims)
        sum_gc = (g * yc).sum(dim=dims)                        # sum of g * (y - mean)
        a = scales / d
        sq = var.sqrt()
        if m > 1:
            b = torch.where(sq > 0, -scales * sum_gc / (d * d * sq.clamp_min(1e-30) * (m - 1)),
                            torch.zeros_like(sq))
        else:
            b = torch.zeros_like(sq)
        grad_y = None
        if ctx.needs_input_grad[0]:
            grad_y = yc * b.view(view)
            grad_y.addcmul_(g, a.view(view))
            grad_y.add_((-a * sum_g / m).view(view))
        return grad_y, sum_gc / d, sum_g, None, None, None

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
        if self.activation_name == "leaky":  # y is this layer's own new tensor: no second copy
            return F.leaky_relu_(y, 0.1)
        return self.activation(y)

    def init_weights(self, generator=None) -> None:
        init_affine(self, self.size * self.size * self.in_shape[0] // self.groups, generator)
