"""A torch-free forward pass for the layer types YOLOv2 uses, so that one-image `darkpy detect`
does not pay for `import torch` (1.1-2.3 s here, about Darknet's whole yolov2-tiny-voc run).

Supported: [convolutional] (groups=1; batch norm folded at load into a per-channel factor
(float64, as `darkpy.net.inference`) and bias, the factor applied to the output channels so
that the weights stay in the read-only mapped file, untouched and uncopied; leaky or linear),
[maxpool] (Darknet's padding: `size-1` split with the smaller half top/left), [route], [reorg] (Darknet's
permutation, as `darkpy.net.layers.reorg`) and [region] without a WordTree (logistic on x, y and
objectness, softmax over the classes). Anything else raises `NumpyUnsupported`, and the caller
runs the torch engine instead (which also reports bad cfgs and weights with its own messages: on
any doubt this module declines rather than diagnoses).

Activations are NHWC float32; a convolution is one im2col (stride tricks, one copy) and one BLAS
matmul against the mapped weights; leaky is applied in place. Layer outputs are handed out as
NCHW views, the layout of the torch engine, for comparison and for the region decode.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from darkpy.errors import CfgError
from darkpy.net.cfg import Section, parse_cfg
from darkpy.net.cfgvalues import warn_anchors
from darkpy.net.weights import check_finite, read_weights_file

BN_EPS = 1e-6  # Darknet divides by sqrt(var) + 1e-6 (as darkpy.net.layers.conv)


class NumpyUnsupported(Exception):
    """The cfg (or weights file) needs something only the torch engine has."""


def _int(s: Section, key: str, default: int) -> int:
    v = s.get(key)
    try:
        return default if v is None else int(v)
    except ValueError:
        raise NumpyUnsupported(f"[{s.name}] {key}={v!r}") from None


def _floats(s: Section, key: str) -> list[float]:
    v = s.get(key)
    try:
        return [] if v is None else [float(t) for t in v.split(",") if t]
    except ValueError:
        raise NumpyUnsupported(f"[{s.name}] {key}={v!r}") from None


def _check_keys(s: Section, known: set[str]) -> None:
    extra = set(s.options) - known
    if extra:
        raise NumpyUnsupported(f"[{s.name}] key(s) {', '.join(sorted(extra))}")


_CONV_KEYS = {"filters", "size", "stride", "pad", "padding", "activation", "batch_normalize", "groups"}
_POOL_KEYS = {"size", "stride", "padding"}
_REGION_KEYS = {"coords", "classes", "num", "anchors", "softmax", "log", "sqrt", "max", "jitter", "rescore",
                "thresh", "classfix", "absolute", "random", "coord_scale", "object_scale", "noobject_scale",
                "mask_scale", "class_scale", "bias_match"}


@dataclass
class NpLayer:
    kind: str
    in_shape: tuple[int, int, int]   # (c, h, w) as Darknet
    out_shape: tuple[int, int, int]
    size: int = 1
    stride: int = 1
    padding: int = 0
    filters: int = 0
    leaky: bool = False
    bn: bool = False
    sources: tuple[int, ...] = ()
    num: int = 0
    classes: int = 0
    coords: int = 4
    anchors: np.ndarray | None = None
    weight: np.ndarray | None = None  # (filters, c*size*size) as in the file (a read-only map)
    scale: np.ndarray | None = None   # batch norm: factor per output channel
    bias: np.ndarray | None = None
    section_name: str = ""
    params: dict = field(default_factory=dict)

    @property
    def biases(self) -> np.ndarray:
        """(num, 2) anchors in grid cells, as the torch region layer's buffer."""
        return self.anchors


class NumpyNetwork:
    """A YOLOv2-style detector in numpy: `NumpyNetwork.load(cfg, weights)`, then
    `forward(x)` with x (B, 3, H, W) float32 gives the outputs of the [region] layers (NCHW)."""

    def __init__(self, layers: list[NpLayer], width: int, height: int, channels: int):
        self.layers, self.width, self.height, self.channels = layers, width, height, channels

    @property
    def detection_layers(self) -> list[NpLayer]:
        return [l for l in self.layers if l.kind == "region"]

    @classmethod
    def build(cls, cfg: str | Path, size: int | None = None) -> "NumpyNetwork":
        sections = parse_cfg(cfg)
        net = sections[0]
        w, h, c = _int(net, "width", 0), _int(net, "height", 0), _int(net, "channels", 0)
        if size is not None:
            w = h = int(size)
        if not (w and h and c):
            raise NumpyUnsupported("[net] without width, height and channels")
        if c != 3:  # as the torch engine's Detector: detection loads colour images
            line = net.options["channels"].line if net.has("channels") else net.line
            raise CfgError(f"[net]: channels={c}, but detection loads 3-channel (colour) images",
                           file=net.file, line=line)
        shape = (c, h, w)
        layers: list[NpLayer] = []
        for index, s in enumerate(sections[1:]):
            layers.append(_build_layer(s, index, shape, layers))
            shape = layers[-1].out_shape
        if not any(l.kind == "region" for l in layers):
            raise NumpyUnsupported("no [region] layer")
        return cls(layers, w, h, c)

    @classmethod
    def load(cls, cfg: str | Path, weights: str | Path, size: int | None = None) -> "NumpyNetwork":
        net = cls.build(cfg, size)
        net.load_weights(weights)
        return net

    def load_weights(self, path: str | Path) -> None:
        """Darknet's .weights (see darkpy.net.weights for the header rule), batch norm folded."""
        path, header, floats = read_weights_file(path, mmap=True)
        if header.transpose:
            raise NumpyUnsupported("transposed (very old) weights")
        pos = 0
        spans = []
        for index, layer in enumerate(self.layers):
            if layer.kind != "conv":
                continue
            c = layer.in_shape[0]
            f, k = layer.filters, layer.size
            need = f * (4 if layer.bn else 1) + f * c * k * k
            spans.append((f"layer {index} [convolutional]", pos, pos + need))
            if pos + need > floats.size:
                raise NumpyUnsupported("weights file shorter than the cfg needs")
            bias = floats[pos:pos + f].astype(np.float64)
            pos += f
            # the weights stay in the mapped file, (f, c*k*k) as Darknet stores them: no copy, no
            # page written; batch norm's factor scales the convolution's output channels instead
            layer.weight = floats[pos + (3 * f if layer.bn else 0):pos + need - f].reshape(f, c * k * k)
            if layer.bn:
                scales, mean, var = (floats[pos + i * f:pos + (i + 1) * f].astype(np.float64)
                                     for i in range(3))
                factor = scales / (np.sqrt(var) + BN_EPS)
                layer.scale = factor.astype(np.float32)
                bias = bias - mean * factor
            pos += need - f
            layer.bias = bias.astype(np.float32)
        if pos != floats.size:
            raise NumpyUnsupported("weights file does not fit the cfg")
        check_finite(floats, spans, path)

    def forward(self, x: np.ndarray, keep: bool = False) -> list[np.ndarray]:
        """x: (B, C, H, W) float32. Returns the [region] outputs (B, C, H, W) after Darknet's
        activations, or with `keep` every layer's output (NCHW views)."""
        cur = np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 2, 3, 1))
        outs: list[np.ndarray] = []
        results = []
        for layer in self.layers:
            if layer.kind == "conv":
                cur = _conv(cur, layer)
            elif layer.kind == "maxpool":
                cur = _maxpool(cur, layer)
            elif layer.kind == "route":
                parts = [outs[i] for i in layer.sources]
                cur = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=3)
            elif layer.kind == "reorg":
                cur = _reorg(cur, layer.stride)
            else:  # region
                cur = region_activate(cur.transpose(0, 3, 1, 2), layer).transpose(0, 2, 3, 1)
                results.append(cur.transpose(0, 3, 1, 2))
            outs.append(cur)
        if keep:
            return [o.transpose(0, 3, 1, 2) for o in outs]
        return results


def _build_layer(s: Section, index: int, shape: tuple[int, int, int], before: list[NpLayer]) -> NpLayer:
    c, h, w = shape
    if s.name == "convolutional":
        _check_keys(s, _CONV_KEYS)
        act = (s.get("activation") or "logistic").lower()
        if act not in ("leaky", "linear") or _int(s, "groups", 1) != 1:
            raise NumpyUnsupported(f"layer {index}: activation {act} / groups")
        size, stride = _int(s, "size", 1), _int(s, "stride", 1)
        padding = size // 2 if _int(s, "pad", 0) else _int(s, "padding", 0)
        filters = _int(s, "filters", 1)
        oh, ow = (h + 2 * padding - size) // stride + 1, (w + 2 * padding - size) // stride + 1
        if min(oh, ow, size, stride, filters) < 1:
            raise NumpyUnsupported(f"layer {index}: bad convolution")
        return NpLayer("conv", shape, (filters, oh, ow), size=size, stride=stride, padding=padding,
                       filters=filters, leaky=act == "leaky", bn=bool(_int(s, "batch_normalize", 0)))
    if s.name == "maxpool":
        _check_keys(s, _POOL_KEYS)
        stride = _int(s, "stride", 1)
        size = _int(s, "size", stride)
        padding = _int(s, "padding", size - 1)
        oh, ow = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
        if min(oh, ow, size, stride) < 1 or padding < 0:
            raise NumpyUnsupported(f"layer {index}: bad pooling")
        return NpLayer("maxpool", shape, (c, oh, ow), size=size, stride=stride, padding=padding)
    if s.name == "route":
        _check_keys(s, {"layers"})
        try:
            refs = [int(v) for v in (s.get("layers") or "").split(",") if v]
        except ValueError:
            raise NumpyUnsupported(f"layer {index}: route layers") from None
        refs = [index + r if r < 0 else r for r in refs]
        if not refs or any(not 0 <= r < index for r in refs):
            raise NumpyUnsupported(f"layer {index}: route layers")
        shapes = [before[r].out_shape for r in refs]
        if len({sh[1:] for sh in shapes}) != 1:
            raise NumpyUnsupported(f"layer {index}: route sizes differ")
        return NpLayer("route", shape, (sum(sh[0] for sh in shapes), *shapes[0][1:]), sources=tuple(refs))
    if s.name == "reorg":
        _check_keys(s, {"stride"})
        st = _int(s, "stride", 1)
        if st < 1 or c % (st * st) or h % st or w % st:
            raise NumpyUnsupported(f"layer {index}: reorg")
        return NpLayer("reorg", shape, (c * st * st, h // st, w // st), stride=st)
    if s.name == "region":
        _check_keys(s, _REGION_KEYS)
        coords, classes, num = _int(s, "coords", 4), _int(s, "classes", 20), _int(s, "num", 1)
        anchors = _floats(s, "anchors") or [0.5] * (2 * num)
        warn_anchors(anchors, s.file, s.options["anchors"].line if s.has("anchors") else s.line,
                     f"layer {index} [region]")
        if (coords < 4 or len(anchors) != 2 * num or c != num * (coords + 1 + classes)
                or not _int(s, "softmax", 0)):
            raise NumpyUnsupported(f"layer {index}: region options")
        return NpLayer("region", shape, shape, num=num, classes=classes, coords=coords,
                       anchors=np.asarray(anchors, np.float32).reshape(num, 2), section_name="region")
    raise NumpyUnsupported(f"layer {index}: [{s.name}]")


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
    if layer.leaky:
        np.maximum(y, y * np.float32(0.1), out=y)
    return y.reshape(b, oh, ow, layer.filters)


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


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


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


def supported(cfg: str | Path, size: int | None = None) -> bool:
    try:
        NumpyNetwork.build(cfg, size)
    except NumpyUnsupported:
        return False
    return True


__all__: Sequence[str] = ("NumpyNetwork", "NumpyUnsupported", "region_activate", "supported")
