"""[connected] (fully connected, optionally batch-normalised) and [dropout]."""
from __future__ import annotations

import torch

from darkpy.net.cfg import Section
from darkpy.net.layers.activations import ACTIVATIONS
from darkpy.net.layers.base import BuildContext, Layer, register
from darkpy.net.layers.conv import (add_affine_params, darknet_batchnorm, init_affine, read_batchnorm,
                                     write_batchnorm)


@register("connected")
class Connected(Layer):
    type_name = "connected"
    has_weights = True

    def __init__(self, index, section, in_shape, *, outputs: int, activation: str, batch_normalize: bool):
        super().__init__(index, section, in_shape, (outputs, 1, 1))
        inputs = in_shape[0] * in_shape[1] * in_shape[2]
        self.inputs, self.outputs = inputs, outputs
        self.activation_name, self.batch_normalize = activation, batch_normalize
        self.activation = ACTIVATIONS[activation]
        add_affine_params(self, (outputs, inputs), batch_normalize)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Connected":
        outputs = s.int("output", 1)
        act = (s.str("activation", "logistic") or "").lower()
        bn = s.bool("batch_normalize", False)
        s.check_all_used()
        if act not in ACTIVATIONS:
            raise s.error(f"unknown activation '{act}'", "activation")
        if outputs < 1:
            raise s.error("'output' must be positive", "output")
        return cls(ctx.index, s, ctx.in_shape, outputs=outputs, activation=act, batch_normalize=bn)

    def resized(self, in_shape, shapes):
        return self.out_shape

    def forward(self, x, outputs=None):
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.inputs:
            raise ValueError(f"layer {self.index} (connected) expects {self.inputs} inputs, got {flat.shape[1]}: "
                             "a connected layer fixes the network's input size")
        y = flat @ self.weight.t()
        if self.batch_normalize:
            y = darknet_batchnorm(y, self.scales, self.bias, self.rolling_mean, self.rolling_variance, self.training)
        else:
            y = y + self.bias
        return self.activation(y).reshape(x.shape[0], self.outputs, 1, 1)

    # -- weights: biases, weights, [scales, rolling mean, rolling variance] -------------
    def num_weight_floats(self) -> int:
        return self.outputs + self.weight.numel() + (3 * self.outputs if self.batch_normalize else 0)

    def load_darknet(self, reader) -> None:
        reader.read_into(self.bias, self, "biases")
        if reader.transpose:
            tmp = torch.empty(self.inputs, self.outputs)
            reader.read_into(tmp, self, "weights")
            with torch.no_grad():
                self.weight.copy_(tmp.t())
        else:
            reader.read_into(self.weight, self, "weights")
        if self.batch_normalize:
            read_batchnorm(self, reader)

    def save_darknet(self, writer) -> None:
        writer.write(self.bias)
        writer.write(self.weight.t() if writer.transpose else self.weight)
        if self.batch_normalize:
            write_batchnorm(self, writer)

    def init_weights(self, generator=None) -> None:
        init_affine(self, self.inputs, generator)

    @property
    def bflops(self) -> float:
        return 2.0 * self.inputs * self.outputs / 1e9

    def describe(self) -> dict:
        return {"type": "connected", "filters": str(self.outputs), "size": "", "extra": self.activation_name}


@register("dropout")
class Dropout(Layer):
    """Zeroes inputs with `probability` while training and scales the rest by 1/(1-p), as
    Darknet does; the identity at test time."""

    type_name = "dropout"

    def __init__(self, index, section, in_shape, *, probability: float):
        super().__init__(index, section, in_shape, in_shape)
        self.probability = probability

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Dropout":
        p = s.float("probability", 0.5)
        s.check_all_used()
        if not 0 <= p < 1:
            raise s.error(f"'probability' must be in [0, 1), got {p}", "probability")
        return cls(ctx.index, s, ctx.in_shape, probability=p)

    def forward(self, x, outputs=None):
        if not self.training or self.probability == 0:
            return x
        keep = (torch.rand_like(x) >= self.probability).to(x.dtype)
        return x * keep / (1 - self.probability)

    def describe(self) -> dict:
        return {"type": "dropout", "filters": "", "size": "", "extra": f"p = {self.probability:.2f}"}
