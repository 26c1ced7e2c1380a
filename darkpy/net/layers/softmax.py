"""[softmax] (plain, grouped, spatial, or a WordTree's hierarchical softmax) and [cost]."""
from __future__ import annotations

import torch

from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import CostSpec, SoftmaxSpec
from darkpy.wordtree.hierarchy import group_softmax


@register(SoftmaxSpec)
class Softmax(Layer):
    def __init__(self, spec: SoftmaxSpec):
        super().__init__(spec)
        if spec.tree is not None:
            self.register_buffer("tree_group", torch.as_tensor(spec.tree.group, dtype=torch.long),
                                 persistent=False)

    def forward(self, x, outputs=None):
        b = x.shape[0]
        if self.spatial:
            return torch.softmax(x / self.temperature, dim=1)
        flat = x.reshape(b, -1)
        if self.tree is not None:
            y = group_softmax(flat, self.tree_group, self.tree.groups, dim=1, temperature=self.temperature)
        else:
            y = torch.softmax(flat.reshape(b, self.groups, -1) / self.temperature, dim=2)
        return y.reshape(x.shape)


@register(CostSpec)
class Cost(Layer):
    """Darknet's cost layer: the identity at test time (its options are for training)."""

    def forward(self, x, outputs=None):
        return x
