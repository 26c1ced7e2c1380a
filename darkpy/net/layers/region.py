"""[region]: YOLOv2's detection layer (and YOLO9000's, with `tree=`).

At a layer boundary the tensor keeps Darknet's layout, (N, anchors·(coords+1+classes), H, W):
for each anchor, coords planes (tx, ty, tw, th), an objectness plane, then one plane per class.
The forward pass applies what Darknet applies in place: logistic to tx, ty and objectness, and a
softmax (or a WordTree softmax per group) over the classes; tw, th stay raw. The training loss
lives in `darkpy.train.detection.loss` and uses this layer's options.
"""
from __future__ import annotations

import torch

from darkpy.net.layers.base import Layer, register
from darkpy.net.spec import RegionSpec, YoloSpec
from darkpy.wordtree.hierarchy import group_softmax


@register(RegionSpec)
class Region(Layer):
    def __init__(self, spec: RegionSpec):
        super().__init__(spec)
        self.register_buffer("biases", torch.tensor(spec.anchors, dtype=torch.float32).reshape(spec.num, 2),
                             persistent=False)
        if spec.tree is not None:
            self.register_buffer("tree_group", torch.as_tensor(spec.tree.group, dtype=torch.long),
                                 persistent=False)

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        """Darknet's in-place activations of the region output (see module docstring)."""
        b, _, h, w = x.shape
        v = x.reshape(b, self.num, self.entries, h, w)
        parts = [torch.sigmoid(v[:, :, 0:2]), v[:, :, 2:self.coords]]
        obj = v[:, :, self.coords:self.coords + 1]
        cls = v[:, :, self.coords + 1:]
        if self.tree is not None:
            parts.append(obj if self.background else torch.sigmoid(obj))
            parts.append(group_softmax(cls, self.tree_group, self.tree.groups, dim=2))
        elif self.softmax:
            if self.background:
                parts.append(torch.softmax(v[:, :, self.coords:], dim=2))
            else:
                parts += [torch.sigmoid(obj), torch.softmax(cls, dim=2)]
        else:
            parts += [obj if self.background else torch.sigmoid(obj), torch.sigmoid(cls)]
        return torch.cat(parts, dim=2).reshape(x.shape)

    def forward(self, x, outputs=None):
        return self.activate(x)


@register(YoloSpec)
class Yolo(Layer):
    """[yolo] (YOLOv3): logistic on x, y, objectness and every class score."""

    def forward(self, x, outputs=None):
        b, _, h, w = x.shape
        v = x.reshape(b, self.num, 5 + self.classes, h, w)
        y = torch.cat([torch.sigmoid(v[:, :, 0:2]), v[:, :, 2:4], torch.sigmoid(v[:, :, 4:])], dim=2)
        return y.reshape(x.shape)
