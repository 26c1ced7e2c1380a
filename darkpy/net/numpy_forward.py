"""A torch-free forward pass, so that a few images (`darkpy detect`, `recall`, `valid`, `map`,
`classifier predict`) do not pay for `import torch` (1.1-2.3 s here, about Darknet's whole
yolov2-tiny-voc run).

It runs a `darkpy.net.spec.NetworkSpec`, the description the torch builder reads too: the cfg is
checked (and its errors reported) by the spec stage, the weights file placed by the same
`plan_weights` (same header and size checks, same messages). Supported layers:

- [convolutional] (groups=1; batch norm folded at load into a per-channel factor (float64, as
  `darkpy.net.inference`) and bias, the factor applied to the output channels so that the
  weights stay in the read-only mapped file, untouched and uncopied) and [connected] (the same
  folding; very old files' inputs-major weights read transposed), with any of Darknet's
  activations but gelu (`ACTIVATIONS`);
- [maxpool] (Darknet's padding: `size-1` split with the smaller half top/left), [avgpool]
  (global mean), [route], [shortcut] (also between different shapes, as Darknet samples them),
  [reorg] (Darknet's permutation, as `darkpy.net.layers.reorg`), [crop] (the centred crop of
  test time, mapped to [-1, 1] unless `noadjust`);
- [softmax] (groups, temperature, spatial, and a WordTree's `tree=`: a softmax inside each group
  of siblings, `darkpy.wordtree.numpy_hierarchy`); [dropout] and [cost] are the identity at test
  time;
- [region] without a WordTree (logistic on x, y and objectness, softmax over the classes).

Any other layer raises `NumpyUnsupported`, and the caller runs the torch engine instead. A
detector (`NumpyNetwork(spec)`) needs [region] layers and colour input; a classifier
(`NumpyNetwork(spec, classifier=True)`) gives the output of its last non-[cost] layer
(`output`), as the torch `Network.forward` does.

Activations are NHWC float32; a convolution is one im2col (stride tricks, one copy) and one BLAS
matmul against the mapped weights; leaky is applied in place. Layer outputs are handed out as
NCHW views, the layout of the torch engine, for comparison and for the region decode. Layers that
read their input in Darknet's (c, h, w) order ([connected], [softmax]) see it in that order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from darkpy.net.blas import blas_threads_for
from darkpy.net.spec import (BN_EPS, AvgPoolSpec, ConnectedSpec, ConvSpec, CostSpec, CropSpec, DropoutSpec,
                             LayerSpec, MaxPoolSpec, NetworkSpec, RegionSpec, ReorgSpec, RouteSpec, ShortcutSpec,
                             SoftmaxSpec, read_spec)
from darkpy.net.weights import plan_weights
from darkpy.wordtree import numpy_hierarchy


class NumpyUnsupported(Exception):
    """The network needs something only the torch engine has."""


KINDS = {ConvSpec: "conv", ConnectedSpec: "connected", MaxPoolSpec: "maxpool", AvgPoolSpec: "avgpool",
         RouteSpec: "route", ShortcutSpec: "shortcut", ReorgSpec: "reorg", CropSpec: "crop",
         SoftmaxSpec: "softmax", DropoutSpec: "identity", CostSpec: "identity", RegionSpec: "region"}


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _where(cond, a, b):
    return np.where(cond, a, b).astype(np.float32, copy=False)


_F = np.float32
# Darknet's activations (as darkpy.net.layers.activations computes them in torch), on float32
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "logistic": _sigmoid,
    "loggy": lambda x: _F(2) * _sigmoid(x) - _F(1),
    "relu": lambda x: np.maximum(x, _F(0)),
    "relu6": lambda x: np.clip(x, _F(0), _F(6)),
    "elu": lambda x: _where(x > 0, x, np.expm1(np.minimum(x, _F(0)))),
    "selu": lambda x: _F(1.0507009873554804934193349852946) * _where(
        x > 0, x, _F(1.6732632423543772848170429916717) * np.expm1(np.minimum(x, _F(0)))),
    "relie": lambda x: _where(x > 0, x, _F(0.01) * x),
    "ramp": lambda x: x * (x > 0) + _F(0.1) * x,
    "leaky": lambda x: np.maximum(x, x * _F(0.1)),
    "tanh": np.tanh,
    "plse": lambda x: _where(x < -4, _F(0.01) * (x + _F(4)),
                             _where(x > 4, _F(0.01) * (x - _F(4)) + _F(1), _F(0.125) * x + _F(0.5))),
    "stair": lambda x: _where(np.remainder(np.floor(x), _F(2)) == 0, np.floor(x / _F(2)),
                              (x - np.floor(x)) + np.floor(x / _F(2))),
    "hardtan": lambda x: np.clip(x, _F(-1), _F(1)),
    "lhtan": lambda x: _where(x < 0, _F(0.001) * x, _where(x > 1, _F(0.001) * (x - _F(1)) + _F(1), x)),
    # torch's softplus: the identity above 20
    "mish": lambda x: x * np.tanh(_where(x > 20, x, np.logaddexp(_F(0), x))),
    "swish": lambda x: x * _sigmoid(x),
}


def _kind(spec: LayerSpec) -> str:
    """This engine's name for a layer spec it runs; NumpyUnsupported for any other."""
    kind = KINDS.get(type(spec))
    where = f"layer {spec.index} [{spec.section_name}]"
    if kind is None:
        raise NumpyUnsupported(where)
    act = getattr(spec, "activation_name", "linear")
    if act not in ACTIVATIONS:
        raise NumpyUnsupported(f"{where}: activation {act}")
    if kind == "conv" and spec.groups != 1:
        raise NumpyUnsupported(f"{where}: groups {spec.groups}")
    if kind == "reorg" and spec.reverse:
        raise NumpyUnsupported(f"{where}: reverse")
    if kind == "region" and (not spec.softmax or spec.tree is not None or spec.background
                             or spec.class_map is not None):
        raise NumpyUnsupported(f"{where}: only a plain softmax region (no tree=, map=, background)")
    return kind


@dataclass
class NpLayer:
    """A layer spec as this engine runs it, with its (folded) parameters once loaded."""

    spec: LayerSpec
    kind: str
    weight: np.ndarray | None = None  # (outputs, inputs) as in the file (a read-only map)
    scale: np.ndarray | None = None   # batch norm: factor per output channel
    bias: np.ndarray | None = None

    def __getattr__(self, name: str):
        spec = self.__dict__.get("spec")
        if spec is None:
            raise AttributeError(name)
        return getattr(spec, name)


class NumpyNetwork:
    """A Darknet network in numpy, built from a `NetworkSpec`: `NumpyNetwork.load(cfg or spec,
    weights)`, then `forward(x)` with x (B, C, H, W) float32 gives the outputs of the [region]
    layers (NCHW); `NumpyNetwork.load(..., classifier=True)`, then `output(x)` gives the
    network's output (its last non-[cost] layer, NCHW)."""

    def __init__(self, spec: NetworkSpec, *, classifier: bool = False):
        if not classifier:
            if not spec.detection_layers or any(l.section_name != "region" for l in spec.detection_layers):
                raise NumpyUnsupported("no [region] layer" if not spec.detection_layers else "a [yolo] layer")
        # as the torch engines: a detector reads colour images, a classifier colour or grayscale
        spec.net.check_image_channels(spec.cfg_path, detector=not classifier)
        self.spec = spec
        self.classifier = classifier
        self.layers = [NpLayer(l, _kind(l)) for l in spec.layers]

    @property
    def width(self) -> int:
        return self.spec.net.width

    @property
    def height(self) -> int:
        return self.spec.net.height

    @property
    def channels(self) -> int:
        return self.spec.net.channels

    @property
    def net(self):
        """The `[net]` settings (`NetConfig`), as the torch `Network.net`."""
        return self.spec.net

    @property
    def detection_layers(self) -> list[LayerSpec]:
        return self.spec.detection_layers

    @property
    def output_index(self) -> int:
        return self.spec.output_index

    @property
    def output_layer(self) -> LayerSpec:
        return self.spec.layers[self.spec.output_index]

    @classmethod
    def build(cls, cfg: str | Path | NetworkSpec, size: int | None = None, *,
              classifier: bool = False) -> "NumpyNetwork":
        spec = cfg if isinstance(cfg, NetworkSpec) else read_spec(cfg)
        if size is not None and (spec.net.width, spec.net.height) != (size, size):
            spec.resize(int(size))
        return cls(spec, classifier=classifier)

    @classmethod
    def load(cls, cfg: str | Path | NetworkSpec, weights: str | Path, size: int | None = None, *,
             classifier: bool = False) -> "NumpyNetwork":
        net = cls.build(cfg, size, classifier=classifier)
        net.load_weights(weights)
        return net

    def resize(self, width: int, height: int | None = None) -> "NumpyNetwork":
        """Recompute every layer's shapes for a new input size (the weights do not change)."""
        self.spec.resize(width, height)
        return self

    def load_weights(self, path: str | Path) -> None:
        """Darknet's .weights, placed by `darkpy.net.weights.plan_weights` (the torch engine's
        plan: same header checks, same errors), memory-mapped; batch norm folded into a factor."""
        plan = plan_weights(self.spec.layers, path, mmap=True)
        self.last_load = plan.report()
        by_index = {l.index: l for l in self.layers}
        for spec, pos in plan.entries:
            layer = by_index[spec.index]
            runs = {}
            for name, shape in spec.weight_layout():
                n = int(np.prod(shape))
                runs[name] = plan.floats[pos:pos + n]
                pos += n
            if layer.kind == "connected":
                n_out, n_in = spec.outputs, spec.inputs
                if plan.header.transpose:  # very old files: inputs-major
                    layer.weight = runs["weights"].reshape(n_in, n_out).T
                else:
                    layer.weight = runs["weights"].reshape(n_out, n_in)
            else:
                # the weights stay in the mapped file, (f, c*k*k) as Darknet stores them: no copy, no
                # page written; batch norm's factor scales the convolution's output channels instead
                layer.weight = runs["weights"].reshape(spec.filters, -1)
            bias = runs["biases"].astype(np.float64)
            if spec.batch_normalize:
                scales, mean, var = (runs[k].astype(np.float64) for k in ("scales", "rolling mean",
                                                                          "rolling variance"))
                factor = scales / (np.sqrt(var) + BN_EPS)
                layer.scale = factor.astype(np.float32)
                bias = bias - mean * factor
            layer.bias = bias.astype(np.float32)

    def _run(self, x: np.ndarray, upto: int) -> list[np.ndarray]:
        """Every layer's output up to `upto` (NHWC)."""
        cur = np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 2, 3, 1))
        outs: list[np.ndarray] = []
        for layer in self.layers[:upto + 1]:
            kind = layer.kind
            if kind == "conv":
                cur = _conv(cur, layer)
            elif kind == "connected":
                cur = _connected(cur, layer)
            elif kind == "maxpool":
                cur = _maxpool(cur, layer)
            elif kind == "avgpool":
                cur = cur.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
            elif kind == "route":
                parts = [outs[i] for i in layer.sources]
                cur = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=3)
            elif kind == "shortcut":
                cur = _shortcut(cur, outs[layer.source], layer)
            elif kind == "reorg":
                cur = _reorg(cur, layer.stride)
            elif kind == "crop":
                cur = _crop(cur, layer)
            elif kind == "softmax":
                cur = _softmax(cur, layer)
            elif kind == "region":
                cur = region_activate(cur.transpose(0, 3, 1, 2), layer).transpose(0, 2, 3, 1)
            # identity: [dropout] and [cost] at test time
            outs.append(cur)
        return outs

    def forward(self, x: np.ndarray, keep: bool = False) -> list[np.ndarray]:
        """x: (B, C, H, W) float32. Returns the [region] outputs (B, C, H, W) after Darknet's
        activations, or with `keep` every layer's output (NCHW views)."""
        with blas_threads_for(self):
            outs = self._run(x, len(self.layers) - 1)
        if keep:
            return [o.transpose(0, 3, 1, 2) for o in outs]
        return [outs[l.index].transpose(0, 3, 1, 2) for l in self.layers if l.kind == "region"]

    def output(self, x: np.ndarray) -> np.ndarray:
        """x: (B, C, H, W) float32 -> the network's output (its last non-[cost] layer), NCHW, as
        the torch `Network.forward` gives it."""
        with blas_threads_for(self):
            outs = self._run(x, self.output_index)
        return outs[-1].transpose(0, 3, 1, 2)

    @property
    def bflops(self) -> float:
        """Darknet's BFLOPs of one image through the network."""
        return float(sum(l.spec.bflops for l in self.layers))


def _activate(y: np.ndarray, name: str) -> np.ndarray:
    if name == "leaky":  # in place: y is the layer's own new array
        np.maximum(y, y * np.float32(0.1), out=y)
        return y
    return ACTIVATIONS[name](y).astype(np.float32, copy=False)


def _conv(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    b, h, w, c = x.shape
    k, s, p = layer.size, layer.stride, layer.padding
    _, oh, ow = layer.out_shape
    if k == 1 and s == 1 and p == 0:
        cols = x.reshape(b * h * w, c)
    else:
        if p:
            xp = np.zeros((b, h + 2 * p, w + 2 * p, c), np.float32)
            xp[:, p:p + h, p:p + w] = x
        else:
            xp = x
        sb, sh, sw, sc = xp.strides  # windows in (c, ky, kx) order, the file's weight order
        view = np.lib.stride_tricks.as_strided(xp, (b, oh, ow, c, k, k), (sb, sh * s, sw * s, sc, sh, sw),
                                               writeable=False)
        cols = view.reshape(b * oh * ow, c * k * k)
    y = cols @ layer.weight.T  # BLAS reads the transposed weights in place
    if layer.scale is not None:
        y *= layer.scale
    y += layer.bias
    return _activate(y, layer.activation_name).reshape(b, oh, ow, layer.filters)


def _nchw_flat(x: np.ndarray) -> np.ndarray:
    """(B, H, W, C) -> (B, C*H*W) in Darknet's (c, h, w) order."""
    b, h, w, c = x.shape
    if h == 1 and w == 1:
        return x.reshape(b, c)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(b, -1)


def _from_nchw_flat(y: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    b, h, w, c = shape
    if h == 1 and w == 1:
        return y.reshape(b, 1, 1, c)
    return y.reshape(b, c, h, w).transpose(0, 2, 3, 1)


def _connected(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    flat = _nchw_flat(x)
    if flat.shape[1] != layer.inputs:
        raise ValueError(f"layer {layer.index} (connected) expects {layer.inputs} inputs, got {flat.shape[1]}: "
                         "a connected layer fixes the network's input size")
    y = flat @ layer.weight.T
    if layer.scale is not None:
        y *= layer.scale
    y += layer.bias
    return _activate(y, layer.activation_name).reshape(x.shape[0], 1, 1, layer.outputs)


def _softmax(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    t = np.float32(layer.temperature)
    if layer.spatial:  # over the channels of every position
        v = x / t if t != 1 else x
        e = np.exp(v - v.max(axis=3, keepdims=True))
        return e / e.sum(axis=3, keepdims=True)
    flat = _nchw_flat(x)
    b = flat.shape[0]
    if layer.tree is not None:
        y = numpy_hierarchy.group_softmax(flat, layer.tree, layer.temperature)
    else:
        v = flat.reshape(b, layer.groups, -1)
        if t != 1:
            v = v / t
        e = np.exp(v - v.max(axis=2, keepdims=True))
        y = (e / e.sum(axis=2, keepdims=True)).reshape(b, -1)
    return _from_nchw_flat(y, x.shape)


def _shortcut(x: np.ndarray, add: np.ndarray, layer: NpLayer) -> np.ndarray:
    """Darknet's shortcut (darkpy.net.layers.route.Shortcut): alpha * x + beta * add, where the
    two differ in size sampled with integer strides over the overlapping channels."""
    alpha, beta = np.float32(layer.alpha), np.float32(layer.beta)
    if add.shape == x.shape:
        y = alpha * x + beta * add if (alpha != 1 or beta != 1) else x + add
        return _activate(y, layer.activation_name)
    _, h1, w1, c1 = add.shape
    _, h2, w2, c2 = x.shape
    stride, sample = max(1, w1 // w2), max(1, w2 // w1)
    minw, minh, minc = min(w1, w2), min(h1, h2), min(c1, c2)
    src = add[:, ::stride, ::stride, :minc][:, :minh, :minw]
    y = x.copy()
    region = y[:, ::sample, ::sample, :minc][:, :minh, :minw]
    region[...] = alpha * region + beta * src
    return _activate(y, layer.activation_name)


def _crop(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    """Test time: the centred crop, mapped from [0, 1] to [-1, 1] unless `noadjust`."""
    _, h, w, _ = x.shape
    ch, cw = layer.crop_height, layer.crop_width
    dh, dw = (h - ch) // 2, (w - cw) // 2
    y = x[:, dh:dh + ch, dw:dw + cw]
    return np.ascontiguousarray(y) if layer.noadjust else y * np.float32(2) - np.float32(1)


def _maxpool(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    b, h, w, c = x.shape
    k, s = layer.size, layer.stride
    _, oh, ow = layer.out_shape
    lead = layer.padding // 2
    ph = max(h + lead, (oh - 1) * s + k)
    pw = max(w + lead, (ow - 1) * s + k)
    if lead or ph > h or pw > w:
        xp = np.full((b, ph, pw, c), -np.inf, np.float32)
        xp[:, lead:lead + h, lead:lead + w] = x
    else:
        xp = x
    out = xp[:, 0:s * (oh - 1) + 1:s, 0:s * (ow - 1) + 1:s].copy()
    for i in range(k):  # k*k strided maxima over the kernel's offsets
        for j in range(k):
            if i or j:
                np.maximum(out, xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s], out=out)
    return out


def _reorg(x: np.ndarray, s: int) -> np.ndarray:
    """darkpy.net.layers.reorg.darknet_reorg on the NCHW buffer, returned NHWC."""
    nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    b, c, h, w = nchw.shape
    y = nchw.reshape(b, c // (s * s), h, s, w, s).transpose(0, 3, 5, 1, 2, 4)
    y = y.reshape(b, c * s * s, h // s, w // s)
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1))


def region_activate(x: np.ndarray, layer: NpLayer) -> np.ndarray:
    """Darknet's region activations on (B, num*(coords+1+classes), H, W): logistic on x, y and
    objectness, softmax over the classes (darkpy.net.layers.region.Region.activate)."""
    b, _, h, w = x.shape
    v = np.array(x, np.float32).reshape(b, layer.num, layer.coords + 1 + layer.classes, h, w)
    v[:, :, 0:2] = _sigmoid(v[:, :, 0:2])
    v[:, :, layer.coords] = _sigmoid(v[:, :, layer.coords])
    cls = v[:, :, layer.coords + 1:]
    e = np.exp(cls - cls.max(axis=2, keepdims=True))
    v[:, :, layer.coords + 1:] = e / e.sum(axis=2, keepdims=True)
    return v.reshape(x.shape)


def supported(cfg: str | Path | NetworkSpec, size: int | None = None, *, classifier: bool = False) -> bool:
    try:
        NumpyNetwork.build(cfg, size, classifier=classifier)
    except NumpyUnsupported:
        return False
    return True


__all__: Sequence[str] = ("ACTIVATIONS", "NpLayer", "NumpyNetwork", "NumpyUnsupported", "region_activate", "supported")
