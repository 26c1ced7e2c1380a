"""A torch-free forward pass for the layer types YOLOv2 uses, so that one-image `darkpy detect`
does not pay for `import torch` (1.1-2.3 s here, about Darknet's whole yolov2-tiny-voc run).

It runs a `darkpy.net.spec.NetworkSpec`, the description the torch builder reads too: the cfg is
checked (and its errors reported) by the spec stage, the weights file placed by the same
`plan_weights` (same header and size checks, same messages). Supported: [convolutional] (groups=1; batch norm folded at load into a per-channel factor
(float64, as `darkpy.net.inference`) and bias, the factor applied to the output channels so
that the weights stay in the read-only mapped file, untouched and uncopied; leaky or linear),
[maxpool] (Darknet's padding: `size-1` split with the smaller half top/left), [route], [reorg] (Darknet's
permutation, as `darkpy.net.layers.reorg`) and [region] without a WordTree (logistic on x, y and
objectness, softmax over the classes). Any other layer raises `NumpyUnsupported`, and the caller
runs the torch engine instead.

Activations are NHWC float32; a convolution is one im2col (stride tricks, one copy) and one BLAS
matmul against the mapped weights; leaky is applied in place. Layer outputs are handed out as
NCHW views, the layout of the torch engine, for comparison and for the region decode.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from darkpy.net.spec import (BN_EPS, ConvSpec, LayerSpec, MaxPoolSpec, NetworkSpec, RegionSpec, ReorgSpec,
                             RouteSpec, read_spec)
from darkpy.net.weights import plan_weights



class NumpyUnsupported(Exception):
    """The network needs something only the torch engine has."""


KINDS = {ConvSpec: "conv", MaxPoolSpec: "maxpool", RouteSpec: "route", ReorgSpec: "reorg", RegionSpec: "region"}


def _kind(spec: LayerSpec) -> str:
    """This engine's name for a layer spec it runs; NumpyUnsupported for any other."""
    kind = KINDS.get(type(spec))
    where = f"layer {spec.index} [{spec.section_name}]"
    if kind is None:
        raise NumpyUnsupported(where)
    if kind == "conv" and (spec.activation_name not in ("leaky", "linear") or spec.groups != 1):
        raise NumpyUnsupported(f"{where}: activation {spec.activation_name} / groups {spec.groups}")
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
    weight: np.ndarray | None = None  # (filters, c*size*size) as in the file (a read-only map)
    scale: np.ndarray | None = None   # batch norm: factor per output channel
    bias: np.ndarray | None = None

    def __getattr__(self, name: str):
        spec = self.__dict__.get("spec")
        if spec is None:
            raise AttributeError(name)
        return getattr(spec, name)


class NumpyNetwork:
    """A YOLOv2-style detector in numpy, built from a `NetworkSpec`: `NumpyNetwork.load(cfg or
    spec, weights)`, then `forward(x)` with x (B, 3, H, W) float32 gives the outputs of the
    [region] layers (NCHW)."""

    def __init__(self, spec: NetworkSpec):
        if not spec.detection_layers or any(l.section_name != "region" for l in spec.detection_layers):
            raise NumpyUnsupported("no [region] layer" if not spec.detection_layers else "a [yolo] layer")
        spec.net.check_image_channels(spec.cfg_path, detector=True)  # as the torch Detector: colour images
        self.spec = spec
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
    def detection_layers(self) -> list[LayerSpec]:
        return self.spec.detection_layers

    @classmethod
    def build(cls, cfg: str | Path | NetworkSpec, size: int | None = None) -> "NumpyNetwork":
        spec = cfg if isinstance(cfg, NetworkSpec) else read_spec(cfg)
        if size is not None and (spec.net.width, spec.net.height) != (size, size):
            spec.resize(int(size))
        return cls(spec)

    @classmethod
    def load(cls, cfg: str | Path | NetworkSpec, weights: str | Path, size: int | None = None) -> "NumpyNetwork":
        net = cls.build(cfg, size)
        net.load_weights(weights)
        return net

    def load_weights(self, path: str | Path) -> None:
        """Darknet's .weights, placed by `darkpy.net.weights.plan_weights` (the torch engine's
        plan: same header checks, same errors), memory-mapped; batch norm folded into a factor."""
        plan = plan_weights(self.spec.layers, path, mmap=True)
        by_index = {l.index: l for l in self.layers}
        for spec, pos in plan.entries:
            layer = by_index[spec.index]
            runs = {}
            for name, shape in spec.weight_layout():
                n = int(np.prod(shape))
                runs[name] = plan.floats[pos:pos + n]
                pos += n
            f = spec.filters
            # the weights stay in the mapped file, (f, c*k*k) as Darknet stores them: no copy, no
            # page written; batch norm's factor scales the convolution's output channels instead
            layer.weight = runs["weights"].reshape(f, -1)
            bias = runs["biases"].astype(np.float64)
            if spec.batch_normalize:
                scales, mean, var = (runs[k].astype(np.float64) for k in ("scales", "rolling mean",
                                                                          "rolling variance"))
                factor = scales / (np.sqrt(var) + BN_EPS)
                layer.scale = factor.astype(np.float32)
                bias = bias - mean * factor
            layer.bias = bias.astype(np.float32)

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
    if layer.activation_name == "leaky":
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


def supported(cfg: str | Path | NetworkSpec, size: int | None = None) -> bool:
    try:
        NumpyNetwork.build(cfg, size)
    except NumpyUnsupported:
        return False
    return True


__all__: Sequence[str] = ("NpLayer", "NumpyNetwork", "NumpyUnsupported", "region_activate", "supported")
