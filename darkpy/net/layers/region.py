"""[region]: YOLOv2's detection layer (and YOLO9000's, with `tree=`).

At a layer boundary the tensor keeps Darknet's layout, (N, anchors·(coords+1+classes), H, W):
for each anchor, coords planes (tx, ty, tw, th), an objectness plane, then one plane per class.
The forward pass applies what Darknet applies in place: logistic to tx, ty and objectness, and a
softmax (or a WordTree softmax per group) over the classes; tw, th stay raw. The training loss
lives in `darkpy.train.detection.loss` and uses this layer's options.
"""
from __future__ import annotations

import torch

from darkpy.net.cfg import Section
from darkpy.net.layers.base import BuildContext, Layer, register, require_image_input
from darkpy.net.layers.softmax import group_softmax, load_tree_option
from darkpy.wordtree.tree import Tree


@register("region")
class Region(Layer):
    type_name = "detection"

    def __init__(self, index, section, in_shape, *, num: int, classes: int, coords: int, anchors: list[float],
                 softmax: bool, tree: Tree | None, class_map: list[int] | None, background: bool,
                 options: dict):
        super().__init__(index, section, in_shape, in_shape)
        self.num, self.classes, self.coords = num, classes, coords
        self.anchors = list(anchors)
        self.softmax, self.tree, self.class_map, self.background = softmax, tree, class_map, background
        self.set_options(options)
        self.option_names = tuple(options)
        self.register_buffer("biases", torch.tensor(anchors, dtype=torch.float32).reshape(num, 2),
                             persistent=False)
        if tree is not None:
            self.register_buffer("tree_group", torch.as_tensor(tree.group, dtype=torch.long), persistent=False)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Region":
        c, h, w = require_image_input(s, ctx)
        coords = s.int("coords", 4)
        classes = s.int("classes", 20)
        num = s.int("num", 1)
        options = {
            "log": s.int("log", 0), "sqrt": s.int("sqrt", 0),
            "max_boxes": s.int("max", 30), "jitter": s.float("jitter", 0.2),
            "rescore": s.bool("rescore", False), "thresh": s.float("thresh", 0.5),
            "classfix": s.int("classfix", 0), "absolute": s.bool("absolute", False),
            "random": s.bool("random", False), "coord_scale": s.float("coord_scale", 1.0),
            "object_scale": s.float("object_scale", 1.0), "noobject_scale": s.float("noobject_scale", 1.0),
            "mask_scale": s.float("mask_scale", 1.0), "class_scale": s.float("class_scale", 1.0),
            "bias_match": s.bool("bias_match", False),
        }
        softmax = s.bool("softmax", False)
        background = s.bool("background", False)
        tree = load_tree_option(s, ctx)
        class_map = None
        found = ctx.option_file(s, "map")
        if found is not None:
            name, path = found
            try:
                words = path.read_text(encoding="utf-8", errors="replace").split()
            except OSError as exc:
                raise s.error(f"cannot read map file '{name}': {exc.strerror or exc}", "map") from None
            bad = next((w for w in words if not w.isascii() or not w.lstrip("-").isdigit()), None)
            if bad is not None:
                raise s.error(f"map file '{name}' must hold integers (one per class), found {bad[:20]!r}", "map")
            class_map = [int(v) for v in words]
        anchors = s.floats("anchors", [0.5] * (2 * num))
        s.check_all_used()
        if num < 1 or classes < 0 or coords < 4:
            raise s.error("'num' must be >= 1, 'classes' >= 0 and 'coords' >= 4")
        if len(anchors) != 2 * num:
            raise s.error(f"{len(anchors)} anchor values for num={num} (need {2 * num}: w,h pairs)", "anchors")
        expected = num * (coords + 1 + classes)
        if c != expected:
            raise s.error(f"input has {c} channels but num*(coords+1+classes) = {num}*({coords}+1+{classes}) = "
                          f"{expected}: set filters={expected} in the [convolutional] layer {ctx.index - 1}")
        if tree is not None and tree.n != classes:
            raise s.error(f"tree has {tree.n} nodes but classes={classes}", "tree")
        return cls(ctx.index, s, (c, h, w), num=num, classes=classes, coords=coords, anchors=anchors,
                   softmax=softmax, tree=tree, class_map=class_map, background=background, options=options)

    @property
    def entries(self) -> int:
        return self.coords + 1 + self.classes

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

    def describe(self) -> dict:
        return {"type": "detection", "filters": "", "size": "",
                "extra": f"{self.num} anchors, {self.classes} classes" + (", tree" if self.tree is not None else "")}


@register("yolo")
class Yolo(Layer):
    """[yolo] (YOLOv3): logistic on x, y, objectness and every class score."""

    type_name = "yolo"

    def __init__(self, index, section, in_shape, *, classes: int, mask: list[int], anchors: list[float],
                 options: dict):
        super().__init__(index, section, in_shape, in_shape)
        self.classes, self.mask, self.anchors = classes, mask, anchors
        self.num = len(mask)
        self.set_options(options)

    @classmethod
    def from_cfg(cls, s: Section, ctx: BuildContext) -> "Yolo":
        c, h, w = require_image_input(s, ctx)
        classes = s.int("classes", 20)
        total = s.int("num", 1)
        mask = s.ints("mask", list(range(total)))
        anchors = s.floats("anchors", [0.5] * (2 * total))
        options = {"max_boxes": s.int("max", 90), "jitter": s.float("jitter", 0.2),
                   "ignore_thresh": s.float("ignore_thresh", 0.5), "truth_thresh": s.float("truth_thresh", 1.0),
                   "random": s.bool("random", False), "total": total}
        class_map = s.str("map")
        options["map"] = class_map
        s.check_all_used()
        if len(anchors) != 2 * total:
            raise s.error(f"{len(anchors)} anchor values for num={total} (need {2 * total})", "anchors")
        if any(m < 0 or m >= total for m in mask):
            raise s.error(f"mask {mask} refers to anchors outside 0..{total - 1}", "mask")
        expected = len(mask) * (classes + 5)
        if c != expected:
            raise s.error(f"input has {c} channels but len(mask)*(classes+5) = {len(mask)}*({classes}+5) = "
                          f"{expected}: set filters={expected} in the [convolutional] layer {ctx.index - 1}")
        return cls(ctx.index, s, (c, h, w), classes=classes, mask=mask, anchors=anchors, options=options)

    def forward(self, x, outputs=None):
        b, _, h, w = x.shape
        v = x.reshape(b, self.num, 5 + self.classes, h, w)
        y = torch.cat([torch.sigmoid(v[:, :, 0:2]), v[:, :, 2:4], torch.sigmoid(v[:, :, 4:])], dim=2)
        return y.reshape(x.shape)

    def describe(self) -> dict:
        return {"type": "yolo", "filters": "", "size": "", "extra": f"mask {','.join(map(str, self.mask))}"}
