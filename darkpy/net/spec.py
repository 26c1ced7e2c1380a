"""The network description every engine reads: cfg sections -> typed layer specs, without torch.

A `NetworkSpec` is what a cfg says once it has been checked: the `[net]` settings and, per layer,
a `LayerSpec` with its options (Darknet's defaults applied), its input and output shapes, the
parameters it owns in a `.weights` file (names, shapes and order: `weight_layout`), its BFLOPs and
its row of the layer table. Every cfg error (unknown section or key, bad value, a route to a
missing layer, a region whose input channels do not fit, a missing `tree=` file) is raised here,
with file, line and layer index.

Readers: the torch builder (`darkpy.net.model`: one `nn.Module` per spec), the torch-free numpy
engine (`darkpy.net.numpy_forward`), `darkpy summary`, kmeans' grid stride, the weights file
plan (`darkpy.net.weightsfile`), names lookup for published cfgs. Commands parse a cfg once
(`read_spec`) and hand the spec on.

One registry, `SPECS`, maps a cfg section name to its spec class: a new layer type is a new
class here (`@spec("name")`), and an engine that runs it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Sequence

from darkpy.assets import bundled
from darkpy.errors import CfgError, DataError
from darkpy.net.cfg import Section, parse_cfg, parse_cfg_text
from darkpy.net.cfgvalues import warn_anchors
from darkpy.net.netconfig import NetConfig
from darkpy.wordtree.tree import Tree, read_tree

Shape = tuple[int, int, int]  # (channels, height, width), Darknet's c/h/w

# Darknet's activations by cfg name (the torch functions are in darkpy.net.layers.activations)
ACTIVATION_NAMES = ("linear", "logistic", "loggy", "relu", "relu6", "elu", "selu", "relie", "ramp", "leaky",
                    "tanh", "plse", "stair", "hardtan", "lhtan", "mish", "swish", "gelu")

SPECS: dict[str, type["LayerSpec"]] = {}


def spec(*names: str) -> Callable[[type["LayerSpec"]], type["LayerSpec"]]:
    """Class decorator: the spec of `[name]` sections."""

    def deco(cls: type["LayerSpec"]) -> type["LayerSpec"]:
        cls = dataclass(eq=False, kw_only=True)(cls)
        for name in names:
            if name in SPECS:
                raise RuntimeError(f"section [{name}] registered twice")
            SPECS[name] = cls
        cls.section_names = names
        return cls

    return deco


@dataclass
class BuildContext:
    """What a layer may look at while its spec is made: the shape flowing into it, the specs of
    the layers before it (for route/shortcut), and where the cfg lives."""

    index: int
    in_shape: Shape
    previous: list["LayerSpec"]
    cfg_path: Path | None
    net: NetConfig | None = None

    def layer_ref(self, section: Section, key: str, value: int) -> int:
        """Resolve a layer index as Darknet does: negative values count back from this layer."""
        idx = self.index + value if value < 0 else value
        if not 0 <= idx < self.index:
            raise section.error(
                f"'{key}' refers to layer {value} -> {idx}, which does not exist before layer {self.index}", key)
        return idx

    def resolve_path(self, name: str) -> Path:
        """Darknet opens `tree=`/`map=` files relative to the working directory; darkpy also
        looks beside the cfg and in the package's data folder so bundled cfgs work anywhere."""
        p = Path(name)
        if p.is_absolute() or p.exists():
            return p
        if self.cfg_path is not None:
            for c in (self.cfg_path.parent / p, self.cfg_path.parent.parent / p):
                if c.exists():
                    return c
        return bundled(p) or bundled(Path("data") / p.name) or p

    def option_file(self, section: Section, key: str, hint: str = "") -> tuple[str, Path] | None:
        """The file a `key=` option names (`tree=`, `map=`): the name as written and where
        `resolve_path` finds it, refused with one line when it is missing or not a file; None
        when the option is absent."""
        name = section.str(key)
        if name is None:
            return None
        path = self.resolve_path(name)
        if not path.exists():
            raise section.error(f"{key} file '{name}' not found{hint}", key)
        if not path.is_file():
            raise section.error(f"{key} file '{name}' is not a file", key)
        return name, path


def require_image_input(section: Section, ctx: BuildContext) -> Shape:
    c, h, w = ctx.in_shape
    if not (c and h and w):
        raise section.error(f"needs an image input (c x h x w), but layer {ctx.index - 1} outputs {ctx.in_shape}")
    return ctx.in_shape


def _activation(s: Section, default: str) -> str:
    act = (s.str("activation", default) or "").lower()
    if act not in ACTIVATION_NAMES:
        raise s.error(f"unknown activation '{act}' (one of {', '.join(sorted(ACTIVATION_NAMES))})", "activation")
    return act


@dataclass(eq=False, kw_only=True)
class LayerSpec:
    """One layer as the cfg describes it. `options` holds plain settings (scales, thresholds,
    flags) read as attributes under their cfg names, as Darknet's layer struct holds them."""

    index: int
    section_name: str
    line: int
    in_shape: Shape
    out_shape: Shape
    options: dict = field(default_factory=dict)

    section_names: ClassVar[tuple[str, ...]] = ()
    type_name: ClassVar[str] = ""        # Darknet's name in its layer table
    has_weights: ClassVar[bool] = False

    def __getattr__(self, name: str):
        options = self.__dict__.get("options")
        if options is not None and name in options:
            return options[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "LayerSpec":
        raise NotImplementedError

    @classmethod
    def _base(cls, s: Section, ctx: BuildContext, out_shape: Shape | None = None, in_shape: Shape | None = None
              ) -> dict:
        shape = tuple(ctx.in_shape if in_shape is None else in_shape)
        return dict(index=ctx.index, section_name=s.name, line=s.line, in_shape=shape,
                    out_shape=tuple(shape if out_shape is None else out_shape))

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(self.options)

    def resized(self, in_shape: Shape, shapes: list[Shape]) -> Shape | None:
        """Output shape for a new network input size: `in_shape` is what now flows in, `shapes`
        the new output shapes of all earlier layers (for route and shortcut)."""
        return in_shape

    @property
    def sources(self) -> tuple[int, ...]:
        """Earlier layers whose outputs this layer reads besides its input."""
        return ()

    # -- parameters in a .weights file -------------------------------------------------------
    def weight_layout(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter run in the file, in the file's order."""
        return []

    def num_weight_floats(self) -> int:
        return sum(math.prod(shape) for _, shape in self.weight_layout())

    # -- reporting -----------------------------------------------------------------------------
    @property
    def bflops(self) -> float:
        return 0.0

    def describe(self) -> dict:
        """A row of the summary table (Darknet's layer table columns)."""
        return {"type": self.type_name or self.section_name, "filters": "", "size": "", "extra": ""}


def _affine_layout(n: int, weight_shape: tuple[int, ...], batch_normalize: bool, weights_last: bool
                   ) -> list[tuple[str, tuple[int, ...]]]:
    """Conv: biases, [scales, rolling mean, rolling variance], weights; connected: biases,
    weights, [batch norm] (Darknet's save_convolutional_weights / save_connected_weights)."""
    bn = [("scales", (n,)), ("rolling mean", (n,)), ("rolling variance", (n,))] if batch_normalize else []
    if weights_last:
        return [("biases", (n,)), *bn, ("weights", weight_shape)]
    return [("biases", (n,)), ("weights", weight_shape), *bn]


def _conv_out(h: int, w: int, size: int, stride: int, padding: int) -> tuple[int, int]:
    return (h + 2 * padding - size) // stride + 1, (w + 2 * padding - size) // stride + 1


@spec("convolutional")
class ConvSpec(LayerSpec):
    type_name = "conv"
    has_weights = True
    filters: int
    size: int
    stride: int
    padding: int
    groups: int
    activation_name: str
    batch_normalize: bool
    flipped: bool = False

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "ConvSpec":
        c, h, w = require_image_input(s, ctx)
        filters = s.int("filters", 1)
        size = s.int("size", 1)
        stride = s.int("stride", 1)
        pad = s.int("pad", 0)
        padding = s.int("padding", 0)
        if pad:
            padding = size // 2
        groups = s.int("groups", 1)
        act = (s.str("activation", "logistic") or "").lower()
        bn = s.bool("batch_normalize", False)
        flipped = s.bool("flipped", False)
        for key in ("binary", "xnor", "dot"):  # accepted by Darknet; only the default is supported
            if s.float(key, 0.0):
                raise s.error(f"'{key}' is not supported by darkpy", key)
        s.check_all_used()
        if act not in ACTIVATION_NAMES:
            raise s.error(f"unknown activation '{act}' (one of {', '.join(sorted(ACTIVATION_NAMES))})", "activation")
        if filters < 1 or size < 1 or stride < 1:
            raise s.error("'filters', 'size' and 'stride' must be positive")
        if groups < 1 or c % groups or filters % groups:
            raise s.error(f"groups={groups} must divide input channels ({c}) and filters ({filters})", "groups")
        oh, ow = _conv_out(h, w, size, stride, padding)
        if oh < 1:
            raise s.error(f"kernel {size} with padding {padding} does not fit the {w}x{h} input")
        return cls(**cls._base(s, ctx, (filters, oh, ow)), filters=filters, size=size, stride=stride,
                   padding=padding, groups=groups, activation_name=act, batch_normalize=bn, flipped=flipped)

    def resized(self, in_shape, shapes):
        return (self.filters, *_conv_out(in_shape[1], in_shape[2], self.size, self.stride, self.padding))

    def weight_layout(self):
        shape = (self.filters, self.in_shape[0] // self.groups, self.size, self.size)
        return _affine_layout(self.filters, shape, self.batch_normalize, weights_last=True)

    @property
    def bflops(self) -> float:
        _, oh, ow = self.out_shape
        return 2.0 * self.filters * self.size * self.size * self.in_shape[0] / self.groups * oh * ow / 1e9

    def describe(self) -> dict:
        return {"type": "conv", "filters": str(self.filters),
                "size": f"{self.size} x {self.size} / {self.stride}", "extra": self.activation_name}


@spec("connected")
class ConnectedSpec(LayerSpec):
    type_name = "connected"
    has_weights = True
    inputs: int
    outputs: int
    activation_name: str
    batch_normalize: bool

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "ConnectedSpec":
        outputs = s.int("output", 1)
        act = (s.str("activation", "logistic") or "").lower()
        bn = s.bool("batch_normalize", False)
        s.check_all_used()
        if act not in ACTIVATION_NAMES:
            raise s.error(f"unknown activation '{act}'", "activation")
        if outputs < 1:
            raise s.error("'output' must be positive", "output")
        return cls(**cls._base(s, ctx, (outputs, 1, 1)), inputs=math.prod(ctx.in_shape), outputs=outputs,
                   activation_name=act, batch_normalize=bn)

    def resized(self, in_shape, shapes):
        return self.out_shape

    def weight_layout(self):
        return _affine_layout(self.outputs, (self.outputs, self.inputs), self.batch_normalize, weights_last=False)

    @property
    def bflops(self) -> float:
        return 2.0 * self.inputs * self.outputs / 1e9

    def describe(self) -> dict:
        return {"type": "connected", "filters": str(self.outputs), "size": "", "extra": self.activation_name}


@spec("dropout")
class DropoutSpec(LayerSpec):
    type_name = "dropout"
    probability: float

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "DropoutSpec":
        p = s.float("probability", 0.5)
        s.check_all_used()
        if not 0 <= p < 1:
            raise s.error(f"'probability' must be in [0, 1), got {p}", "probability")
        return cls(**cls._base(s, ctx), probability=p)

    def describe(self) -> dict:
        return {"type": "dropout", "filters": "", "size": "", "extra": f"p = {self.probability:.2f}"}


@spec("maxpool")
class MaxPoolSpec(LayerSpec):
    """Darknet's max pooling: `padding` defaults to size-1 and is split with the smaller half on
    the top/left, so `size=2 stride=1` (tiny-yolo) keeps the spatial size."""

    type_name = "max"
    size: int
    stride: int
    padding: int

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "MaxPoolSpec":
        shape = require_image_input(s, ctx)
        stride = s.int("stride", 1)
        size = s.int("size", stride)
        padding = s.int("padding", size - 1)
        s.check_all_used()
        if size < 1 or stride < 1 or padding < 0:
            raise s.error("'size' and 'stride' must be positive and 'padding' not negative")
        out = cls.pooled(shape, size, stride, padding)
        if min(out[1:]) < 1:
            raise s.error(f"pooling {size}/{stride} does not fit the {shape[2]}x{shape[1]} input")
        return cls(**cls._base(s, ctx, out), size=size, stride=stride, padding=padding)

    @staticmethod
    def pooled(in_shape: Shape, size: int, stride: int, padding: int) -> Shape:
        c, h, w = in_shape
        return (c, (h + padding - size) // stride + 1, (w + padding - size) // stride + 1)

    def resized(self, in_shape, shapes):
        return self.pooled(in_shape, self.size, self.stride, self.padding)

    def describe(self) -> dict:
        return {"type": "max", "filters": "", "size": f"{self.size} x {self.size} / {self.stride}", "extra": ""}


@spec("avgpool")
class AvgPoolSpec(LayerSpec):
    """Global average pooling: every channel becomes one value."""

    type_name = "avg"

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "AvgPoolSpec":
        c, _, _ = require_image_input(s, ctx)
        s.check_all_used()
        return cls(**cls._base(s, ctx, (c, 1, 1)))

    def resized(self, in_shape, shapes):
        return (in_shape[0], 1, 1)


@spec("route")
class RouteSpec(LayerSpec):
    """Concatenates the outputs of earlier layers along channels (negative indices count back)."""

    type_name = "route"
    layers: list[int]

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "RouteSpec":
        if not s.has("layers"):
            raise s.error("missing 'layers'")
        refs = [ctx.layer_ref(s, "layers", v) for v in s.ints("layers")]
        s.check_all_used()
        if not refs:
            raise s.error("'layers' is empty", "layers")
        shapes = [ctx.previous[i].out_shape for i in refs]
        out = cls.concat(shapes)
        if out is None:
            sizes = ", ".join(f"layer {i}: {sh[2]}x{sh[1]}" for i, sh in zip(refs, shapes))
            raise s.error(f"routed layers have different sizes ({sizes})", "layers")
        return cls(**cls._base(s, ctx, out), layers=refs)

    @staticmethod
    def concat(shapes: Sequence[Shape]) -> Shape | None:
        h, w = shapes[0][1], shapes[0][2]
        if any(sh[1] != h or sh[2] != w for sh in shapes):
            return None
        return (sum(sh[0] for sh in shapes), h, w)

    def resized(self, in_shape, shapes):
        return self.concat([shapes[i] for i in self.layers])

    @property
    def sources(self):
        return tuple(self.layers)

    def describe(self) -> dict:
        return {"type": "route", "filters": "", "size": "", "extra": " ".join(map(str, self.layers))}


@spec("shortcut")
class ShortcutSpec(LayerSpec):
    """Adds an earlier layer's output (`from`) to the input, as Darknet does even when the two
    differ in size."""

    type_name = "res"
    source: int
    source_shape: Shape
    activation_name: str
    alpha: float
    beta: float

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "ShortcutSpec":
        require_image_input(s, ctx)
        if not s.has("from"):
            raise s.error("missing 'from'")
        src = ctx.layer_ref(s, "from", s.int("from"))
        act = (s.str("activation", "linear") or "").lower()
        alpha = s.float("alpha", 1.0)
        beta = s.float("beta", 1.0)
        s.check_all_used()
        if act not in ACTIVATION_NAMES:
            raise s.error(f"unknown activation '{act}'", "activation")
        return cls(**cls._base(s, ctx), source=src, source_shape=tuple(ctx.previous[src].out_shape),
                   activation_name=act, alpha=alpha, beta=beta)

    @property
    def sources(self):
        return (self.source,)

    def describe(self) -> dict:
        return {"type": "res", "filters": "", "size": "", "extra": f"{self.source}"}


@spec("upsample")
class UpsampleSpec(LayerSpec):
    """Nearest-neighbour upsampling by `stride` (times `scale`); a negative stride sums blocks
    down instead, as Darknet's reverse mode."""

    type_name = "upsample"
    stride: int
    scale: float

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "UpsampleSpec":
        shape = require_image_input(s, ctx)
        stride = s.int("stride", 2)
        scale = s.float("scale", 1.0)
        s.check_all_used()
        if stride == 0:
            raise s.error("'stride' must not be 0", "stride")
        return cls(**cls._base(s, ctx, cls.sampled(shape, stride)), stride=stride, scale=scale)

    @staticmethod
    def sampled(in_shape: Shape, stride: int) -> Shape:
        c, h, w = in_shape
        if stride < 0:
            return (c, h // -stride, w // -stride)
        return (c, h * stride, w * stride)

    def resized(self, in_shape, shapes):
        return self.sampled(in_shape, self.stride)

    def describe(self) -> dict:
        return {"type": "upsample", "filters": "", "size": f"{abs(self.stride)}x", "extra": ""}


@spec("reorg")
class ReorgSpec(LayerSpec):
    """YOLOv2's passthrough: Darknet's own permutation (see darkpy.net.layers.reorg)."""

    type_name = "reorg"
    stride: int
    reverse: bool

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "ReorgSpec":
        c, h, w = require_image_input(s, ctx)
        stride = s.int("stride", 1)
        reverse = s.bool("reverse", False)
        for key in ("flatten", "extra"):
            if s.int(key, 0):
                raise s.error(f"'{key}' is not supported by darkpy", key)
        s.check_all_used()
        if stride < 1:
            raise s.error("'stride' must be positive", "stride")
        need = stride * stride * (stride * stride if reverse else 1)
        if c % need or (not reverse and (h % stride or w % stride)):
            raise s.error(f"stride {stride} needs channels divisible by {need} and a size divisible by "
                          f"{stride}; input is {w}x{h}x{c}", "stride")
        return cls(**cls._base(s, ctx, cls.reorganised((c, h, w), stride, reverse)), stride=stride, reverse=reverse)

    @staticmethod
    def reorganised(in_shape: Shape, s: int, reverse: bool) -> Shape:
        c, h, w = in_shape
        if reverse:
            return (c // (s * s), h * s, w * s)
        return (c * s * s, h // s, w // s)

    def resized(self, in_shape, shapes):
        return self.reorganised(in_shape, self.stride, self.reverse)

    def describe(self) -> dict:
        return {"type": "reorg", "filters": "", "size": f"/ {self.stride}", "extra": ""}


def load_tree_option(s: Section, ctx: BuildContext) -> Tree | None:
    found = ctx.option_file(s, "tree", " (build it with `darkpy wordtree build`)")
    if found is None:
        return None
    try:
        return read_tree(found[1])
    except DataError as exc:
        raise s.error(f"bad tree file: {exc}", "tree") from None


def _class_map(s: Section, ctx: BuildContext) -> list[int] | None:
    found = ctx.option_file(s, "map")
    if found is None:
        return None
    name, path = found
    try:
        words = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError as exc:
        raise s.error(f"cannot read map file '{name}': {exc.strerror or exc}", "map") from None
    bad = next((w for w in words if not w.isascii() or not w.lstrip("-").isdigit()), None)
    if bad is not None:
        raise s.error(f"map file '{name}' must hold integers (one per class), found {bad[:20]!r}", "map")
    return [int(v) for v in words]


@spec("region")
class RegionSpec(LayerSpec):
    """YOLOv2's detection layer (YOLO9000's with `tree=`): num anchors, each with coords box
    values, an objectness and `classes` scores per cell; anchors in grid cells."""

    type_name = "detection"
    num: int
    classes: int
    coords: int
    anchors: list[float]
    softmax: bool
    tree: Tree | None
    class_map: list[int] | None
    background: bool

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "RegionSpec":
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
        class_map = _class_map(s, ctx)
        anchors = s.floats("anchors", [0.5] * (2 * num))
        s.check_all_used()
        if num < 1 or classes < 0 or coords < 4:
            raise s.error("'num' must be >= 1, 'classes' >= 0 and 'coords' >= 4")
        if len(anchors) != 2 * num:
            raise s.error(f"{len(anchors)} anchor values for num={num} (need {2 * num}: w,h pairs)", "anchors")
        _warn_anchors(s, anchors)
        expected = num * (coords + 1 + classes)
        if c != expected:
            raise s.error(f"input has {c} channels but num*(coords+1+classes) = {num}*({coords}+1+{classes}) = "
                          f"{expected}: set filters={expected} in the [convolutional] layer {ctx.index - 1}")
        if tree is not None and tree.n != classes:
            raise s.error(f"tree has {tree.n} nodes but classes={classes}", "tree")
        return cls(**cls._base(s, ctx), options=options, num=num, classes=classes, coords=coords,
                   anchors=list(anchors), softmax=softmax, tree=tree, class_map=class_map, background=background)

    @property
    def entries(self) -> int:
        return self.coords + 1 + self.classes

    def describe(self) -> dict:
        return {"type": "detection", "filters": "", "size": "",
                "extra": f"{self.num} anchors, {self.classes} classes" + (", tree" if self.tree is not None else "")}


@spec("yolo")
class YoloSpec(LayerSpec):
    """[yolo] (YOLOv3): `mask` picks which of the `num` anchors (in input pixels) it predicts."""

    type_name = "yolo"
    classes: int
    mask: list[int]
    anchors: list[float]
    num: int

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "YoloSpec":
        c, h, w = require_image_input(s, ctx)
        classes = s.int("classes", 20)
        total = s.int("num", 1)
        mask = s.ints("mask", list(range(total)))
        anchors = s.floats("anchors", [0.5] * (2 * total))
        options = {"max_boxes": s.int("max", 90), "jitter": s.float("jitter", 0.2),
                   "ignore_thresh": s.float("ignore_thresh", 0.5), "truth_thresh": s.float("truth_thresh", 1.0),
                   "random": s.bool("random", False), "total": total, "map": s.str("map")}
        s.check_all_used()
        if len(anchors) != 2 * total:
            raise s.error(f"{len(anchors)} anchor values for num={total} (need {2 * total})", "anchors")
        _warn_anchors(s, anchors)
        if any(m < 0 or m >= total for m in mask):
            raise s.error(f"mask {mask} refers to anchors outside 0..{total - 1}", "mask")
        expected = len(mask) * (classes + 5)
        if c != expected:
            raise s.error(f"input has {c} channels but len(mask)*(classes+5) = {len(mask)}*({classes}+5) = "
                          f"{expected}: set filters={expected} in the [convolutional] layer {ctx.index - 1}")
        return cls(**cls._base(s, ctx), options=options, classes=classes, mask=mask, anchors=list(anchors),
                   num=len(mask))

    def describe(self) -> dict:
        return {"type": "yolo", "filters": "", "size": "", "extra": f"mask {','.join(map(str, self.mask))}"}


@spec("softmax")
class SoftmaxSpec(LayerSpec):
    """Plain, grouped, spatial, or a WordTree's hierarchical softmax."""

    type_name = "softmax"
    groups: int
    temperature: float
    spatial: bool
    tree: Tree | None
    noloss: bool

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "SoftmaxSpec":
        groups = s.int("groups", 1)
        temperature = s.float("temperature", 1.0)
        spatial = bool(s.float("spatial", 0.0))
        noloss = s.bool("noloss", False)
        tree = load_tree_option(s, ctx)
        s.check_all_used()
        inputs = math.prod(ctx.in_shape)
        if groups < 1 or inputs % groups:
            raise s.error(f"groups={groups} must divide the {inputs} inputs", "groups")
        if tree is not None and tree.n != inputs:
            raise s.error(f"tree has {tree.n} nodes but the layer has {inputs} inputs", "tree")
        return cls(**cls._base(s, ctx), groups=groups, temperature=temperature, spatial=spatial, tree=tree,
                   noloss=noloss)


@spec("cost")
class CostSpec(LayerSpec):
    """Darknet's cost layer: passes its input through at test time; the network's output is the
    last layer that is not a cost layer. `type` and scales are kept for training."""

    type_name = "cost"
    COST_TYPES: ClassVar[tuple[str, ...]] = ("sse", "masked", "smooth", "L1", "seg", "wgan")
    cost_type: str
    scale: float
    ratio: float
    noobject_scale: float
    thresh: float

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "CostSpec":
        cost_type = s.str("type", "sse")
        scale = s.float("scale", 1.0)
        ratio = s.float("ratio", 0.0)
        noobject_scale = s.float("noobject_scale", 1.0)
        thresh = s.float("thresh", 0.0)
        s.check_all_used()
        if cost_type not in cls.COST_TYPES:
            raise s.error(f"unknown cost type '{cost_type}' (one of {', '.join(cls.COST_TYPES)})", "type")
        return cls(**cls._base(s, ctx), cost_type=cost_type, scale=scale, ratio=ratio,
                   noobject_scale=noobject_scale, thresh=thresh)

    def describe(self) -> dict:
        return {"type": "cost", "filters": "", "size": "", "extra": self.cost_type}


@spec("crop")
class CropSpec(LayerSpec):
    """A fixed-size crop of the input, random (with flips) while training, centred at test time."""

    type_name = "crop"
    crop_height: int
    crop_width: int
    flip: bool
    noadjust: bool

    @classmethod
    def parse(cls, s: Section, ctx: BuildContext) -> "CropSpec":
        c, h, w = require_image_input(s, ctx)
        ch = s.int("crop_height", 1)
        cw = s.int("crop_width", 1)
        flip = s.bool("flip", False)
        noadjust = s.bool("noadjust", False)
        options = {"angle": s.float("angle", 0.0), "saturation": s.float("saturation", 1.0),
                   "exposure": s.float("exposure", 1.0), "shift": s.float("shift", 0.0)}
        s.check_all_used()
        if not (0 < ch <= h and 0 < cw <= w):
            raise s.error(f"crop {cw}x{ch} does not fit the {w}x{h} input")
        return cls(**cls._base(s, ctx, (c, ch, cw)), options=options, crop_height=ch, crop_width=cw, flip=flip,
                   noadjust=noadjust)

    def resized(self, in_shape, shapes):
        return (in_shape[0], self.crop_height, self.crop_width)

    def describe(self) -> dict:
        return {"type": "crop", "filters": "", "size": f"{self.crop_width} x {self.crop_height}", "extra": ""}


DETECTION_SECTIONS = ("region", "yolo")
BN_EPS = 1e-6  # Darknet's batch norm divides by sqrt(var) + 1e-6, not sqrt(var + eps)


@dataclass(eq=False)
class NetworkSpec:
    """A whole cfg, checked: `[net]` and one spec per layer, at the current input size."""

    net: NetConfig
    layers: list[LayerSpec]
    cfg_path: Path | None = None

    @property
    def input_shape(self) -> Shape:
        return (self.net.channels, self.net.height, self.net.width)

    @property
    def output_index(self) -> int:
        """The network's output: its last layer that is not a [cost] layer."""
        out = len(self.layers) - 1
        while out > 0 and self.layers[out].section_name == "cost":
            out -= 1
        return out

    @property
    def detection_layers(self) -> list[LayerSpec]:
        return [l for l in self.layers if l.section_name in DETECTION_SECTIONS]

    @property
    def classes(self) -> int | None:
        """Classes the detection layers predict (None for a network without one)."""
        layers = self.detection_layers
        return max(int(l.classes) for l in layers) if layers else None

    def num_weight_floats(self, upto: int | None = None) -> int:
        return sum(l.num_weight_floats() for l in self.layers if l.has_weights and (upto is None or l.index < upto))

    def resize(self, width: int, height: int | None = None) -> "NetworkSpec":
        """Recompute every layer's shapes for a new input size (in place)."""
        height = width if height is None else height
        if width < 1 or height < 1:
            raise CfgError(f"input size must be positive, got {width}x{height}", file=self.cfg_path)
        shape: Shape = (self.net.channels, height, width)
        shapes: list[Shape] = []
        for layer in self.layers:
            out = layer.resized(shape, shapes)
            if out is None or min(out) < 1:
                raise CfgError(f"layer {layer.index} [{layer.section_name}] cannot take input {shape} at size "
                               f"{width}x{height}", file=self.cfg_path, line=layer.line)
            layer.in_shape, layer.out_shape = tuple(shape), tuple(out)
            shapes.append(tuple(out))
            shape = tuple(out)
        self.net.width, self.net.height = width, height
        return self

    def region_stride(self) -> float | None:
        """Input pixels per cell of the [region] grid (416 / 13 = 32 for YOLOv2); None without a
        [region] layer. Several [region] layers must agree."""
        strides = {self.net.width / l.in_shape[2] for l in self.layers if l.section_name == "region"}
        if not strides:
            return None
        if len(strides) != 1:
            raise CfgError(f"[region] layers on grids of different strides ({sorted(strides)}): give --stride",
                           file=self.cfg_path)
        return strides.pop()


def available_memory() -> int:
    """Bytes this machine can still give (MemAvailable on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def check_fits(layers: Sequence[LayerSpec], cfg_path: Path | None = None, memory: int | None = None) -> None:
    """Refuse a network whose parameters, or whose activations for one image, do not fit in memory
    (float32), computed from the specs before anything is allocated: a mutated `filters=` must give
    a line, not an out-of-memory kill."""
    memory = available_memory() if memory is None else memory
    counts = [l.num_weight_floats() for l in layers]
    params = sum(counts)
    acts = sum(math.prod(l.out_shape) for l in layers)
    for what, n in (("parameters", params), ("activations for one image", acts)):
        if n * 4 > memory:
            big = max(range(len(layers)), key=lambda i: counts[i] if what == "parameters"
                      else math.prod(layers[i].out_shape))
            l = layers[big]
            raise CfgError(f"the network needs {n * 4 / 1e9:,.1f} GB for its {n:,} {what} (float32), more than "
                           f"the {memory / 1e9:,.1f} GB this machine has available; the largest is layer {l.index} "
                           f"[{l.section_name}] (line {l.line})", file=cfg_path, line=l.line or None)


def build_spec(sections: list[Section], cfg_path: Path | None = None,
               size: int | tuple[int, int] | None = None, batch: int | None = None) -> NetworkSpec:
    """Check sections (as `darkpy.net.cfg` reads them) into a `NetworkSpec`; `size` overrides the
    cfg's input width/height (an int or (width, height)), `batch` its batch."""
    net = NetConfig.from_section(sections[0])
    if size is not None:
        w, h = (size, size) if isinstance(size, int) else size
        if w < 1 or h < 1:
            raise CfgError(f"input size must be positive, got {w}x{h}", file=cfg_path)
        net.width, net.height = int(w), int(h)
    if batch is not None:
        net.batch = batch
    shape: Shape = (net.channels, net.height, net.width)
    if not (net.channels and net.height and net.width):
        shape = (net.inputs, 1, 1)
    layers: list[LayerSpec] = []
    for index, section in enumerate(sections[1:]):
        section.index = index
        cls = SPECS.get(section.name)
        if cls is None:
            known = ", ".join(sorted(SPECS))
            raise CfgError(f"layer {index}: unknown section [{section.name}] (darkpy knows: {known})",
                           file=section.file, line=section.line)
        layer = cls.parse(section, BuildContext(index, shape, layers, cfg_path, net))
        layers.append(layer)
        if min(layer.out_shape) < 1:
            raise section.error(f"output shape {layer.out_shape} is empty for input {shape}")
        shape = layer.out_shape
    if not layers:
        raise CfgError("the cfg has a [net] section but no layers", file=cfg_path)
    check_fits(layers, cfg_path)
    return NetworkSpec(net, layers, cfg_path)


def read_spec(cfg: str | Path, size: int | tuple[int, int] | None = None) -> NetworkSpec:
    """The spec of a cfg path (or of cfg text, if it contains a newline): the one read of the file."""
    if isinstance(cfg, str) and "\n" in cfg:
        return build_spec(parse_cfg_text(cfg), None, size)
    path = Path(cfg)
    return build_spec(parse_cfg(path), path, size)


__all__ = ["ACTIVATION_NAMES", "SPECS", "BuildContext", "check_fits", "LayerSpec", "NetworkSpec", "Shape", "build_spec",
           "read_spec", "spec", "ConvSpec", "ConnectedSpec", "DropoutSpec", "MaxPoolSpec", "AvgPoolSpec",
           "RouteSpec", "ShortcutSpec", "UpsampleSpec", "ReorgSpec", "RegionSpec", "YoloSpec", "SoftmaxSpec",
           "CostSpec", "CropSpec"]


def _warn_anchors(s: Section, anchors: list[float]) -> None:
    """Anchors at or below 0 (warned, not refused: see `cfgvalues.warn_anchors`), with the cfg line."""
    opt = s.options.get("anchors")
    warn_anchors(anchors, s.file, opt.line if opt else s.line, f"layer {s.index} [{s.name}]")
