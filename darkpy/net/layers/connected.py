"""[connected] (fully connected, optionally batch-normalised) and [dropout]."""
from __future__ import annotations

import torch

from darkpy.net.layers.activations import ACTIVATIONS
from darkpy.net.layers.base import TENSORS, Layer, register
from darkpy.net.layers.conv import add_affine_params, darknet_batchnorm, init_affine
from darkpy.net.spec import ConnectedSpec, DropoutSpec


@register(ConnectedSpec)
class Connected(Layer):
    def __init__(self, spec: ConnectedSpec):
        super().__init__(spec)
        self.activation = ACTIVATIONS[spec.activation_name]
        add_affine_params(self, dict(spec.weight_layout())["weights"], spec.batch_normalize)

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

    # -- weights: the spec's layout; very old files store the weights inputs-major ------------
    def load_darknet(self, reader) -> None:
        if not reader.transpose:
            return super().load_darknet(reader)
        for name, _ in self.spec.weight_layout():
            if name == "weights":
                tmp = torch.empty(self.inputs, self.outputs)
                reader.read_into(tmp, self, name)
                with torch.no_grad():
                    self.weight.copy_(tmp.t())
            else:
                reader.read_into(getattr(self, TENSORS[name]), self, name)

    def save_darknet(self, writer) -> None:
        if not writer.transpose:
            return super().save_darknet(writer)
        for name, _ in self.spec.weight_layout():
            writer.write(self.weight.t() if name == "weights" else getattr(self, TENSORS[name]))

    def init_weights(self, generator=None) -> None:
        init_affine(self, self.inputs, generator)


@register(DropoutSpec)
class Dropout(Layer):
    """Zeroes inputs with `probability` while training and scales the rest by 1/(1-p), as
    Darknet does; the identity at test time."""

    def forward(self, x, outputs=None):
        if not self.training or self.probability == 0:
            return x
        keep = (torch.rand_like(x) >= self.probability).to(x.dtype)
        return x * keep / (1 - self.probability)
