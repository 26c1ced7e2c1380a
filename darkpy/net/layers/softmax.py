"""[softmax] (plain, grouped, spatial, or a WordTree's hierarchical softmax) and [cost]."""
from __future__ import annotations

import torch

from darkpy.net.cfg import Section
from darkpy.errors import DataError
from darkpy.net.layers.base import BuildContext, Layer, register
from darkpy.wordtree.hierarchy import group_softmax
from darkpy.wordtree.tree import Tree, read_tree


def load_tree_option(s: Section, ctx: BuildContext) -> Tree | None:
    found = ctx.option_file(s, "tree", " (build it with `darkpy wordtree build`)")
    if found is None:
        return None
    _, path = found
    try:
        return read_tree(path)
    except DataError as exc:
        raise s.error(f"bad tree file: {exc}", "tree") from None


@register("softmax")
class Softmax(Layer):
    type_name = "softmax"

    def __init__(self, index, section, in_shape, *, groups: int, temperature: float, spatial: bool,
                 tree: Tree | None, noloss: bool):
        super().__init__(index, section, in_shape, in_shape)
        self.groups, self.temperature, self.spatial, self.tree, self.noloss = groups, temperature, spatial, tree, noloss
        if tree is not None:
            self.register_buffer("tree_group", torch.as_tensor(tree.group, dtype=torch.long), persistent=False)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Softmax":
        groups = s.int("groups", 1)
        temperature = s.float("temperature", 1.0)
        spatial = bool(s.float("spatial", 0.0))
        noloss = s.bool("noloss", False)
        tree = load_tree_option(s, ctx)
        s.check_all_used()
        c, h, w = ctx.in_shape
        inputs = c * h * w
        if groups < 1 or inputs % groups:
            raise s.error(f"groups={groups} must divide the {inputs} inputs", "groups")
        if tree is not None and tree.n != inputs:
            raise s.error(f"tree has {tree.n} nodes but the layer has {inputs} inputs", "tree")
        return cls(ctx.index, s, ctx.in_shape, groups=groups, temperature=temperature, spatial=spatial,
                   tree=tree, noloss=noloss)

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


@register("cost")
class Cost(Layer):
    """Darknet's cost layer: passes its input through at test time; the network's output is the
    last layer that is not a cost layer. `type` and scales are kept for training."""

    type_name = "cost"
    COST_TYPES = ("sse", "masked", "smooth", "L1", "seg", "wgan")

    def __init__(self, index, section, in_shape, *, cost_type: str, scale: float, ratio: float,
                 noobject_scale: float, thresh: float):
        super().__init__(index, section, in_shape, in_shape)
        self.cost_type, self.scale, self.ratio = cost_type, scale, ratio
        self.noobject_scale, self.thresh = noobject_scale, thresh

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Cost":
        cost_type = s.str("type", "sse")
        scale = s.float("scale", 1.0)
        ratio = s.float("ratio", 0.0)
        noobject_scale = s.float("noobject_scale", 1.0)
        thresh = s.float("thresh", 0.0)
        s.check_all_used()
        if cost_type not in cls.COST_TYPES:
            raise s.error(f"unknown cost type '{cost_type}' (one of {', '.join(cls.COST_TYPES)})", "type")
        return cls(ctx.index, s, ctx.in_shape, cost_type=cost_type, scale=scale, ratio=ratio,
                   noobject_scale=noobject_scale, thresh=thresh)

    def forward(self, x, outputs=None):
        return x

    def describe(self) -> dict:
        return {"type": "cost", "filters": "", "size": "", "extra": self.cost_type}
