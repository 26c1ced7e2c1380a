"""Reading the anchor layers of a Darknet .cfg and rewriting their anchors in place.

The cfg is read by the one cfg reader (`darkpy.net.cfg.CfgDocument`, as the network builder reads
it: first value wins). The rewrite touches only the values that must change (`anchors`, `num`,
`mask` when the anchor count changes, and `filters` of the [convolutional] feeding each layer);
every other byte (comments, spacing, blank lines, CRLF line endings) is kept. The file is written
atomically, keeps its permission bits, and a symlink is followed (its target is edited).

Units: a [region] layer (YOLOv2) takes anchors in cells of its output grid, a [yolo] layer
(YOLOv3) in pixels of the network input, so each layer gets the anchors in its own units. The
grid's cell size (the stride) is the network's own: input size / region grid, computed from
the network's layer specs (`region_stride`), not assumed to be 32.

Masks: in YOLOv3 every [yolo] layer lists all `num` anchors but predicts only those in its `mask`
(the coarsest grid takes the biggest ones). If the anchor count stays the same, masks are kept.
If it changes, the old masks no longer mean anything, so the k new anchors (sorted by area) are
split into as many contiguous groups as there are masked layers, as evenly as possible, and the
layer whose old mask held the smallest anchors gets the smallest group, and so on. A layer
without a mask uses every anchor. `filters` follows: region num*(coords+1+classes), yolo
len(mask)*(classes+5).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from darkpy.errors import CfgError, UsageError

if TYPE_CHECKING:
    from darkpy.net.cfg import Change, CfgDocument, Section

__all__ = ["Change", "CfgDocument", "anchor_layers", "check_anchor_cfg", "format_anchors", "layer_units",
           "net_size", "read_cfg_text", "region_stride", "write_anchors"]


def __getattr__(name: str):
    # `Change` and `CfgDocument` are re-exported; the cfg reader itself loads on first use, so
    # that `kmeans` on labels alone starts without darkpy.net
    if name in ("Change", "CfgDocument"):
        from darkpy.net import cfg

        return getattr(cfg, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_cfg_document(path: str | Path) -> CfgDocument:
    from darkpy.net.cfg import read_cfg_document as read

    return read(path)


def read_cfg_text(path: str | Path) -> CfgDocument:
    """The cfg as an editable document (`darkpy.net.cfg.read_cfg_document`)."""
    return read_cfg_document(path)


def anchor_layers(cfg: CfgDocument) -> list[Section]:
    return [s for s in cfg.sections if s.name in ("region", "yolo")]


def net_size(cfg: CfgDocument) -> tuple[int | None, int | None]:
    w, h = cfg.net.int("width", 0), cfg.net.int("height", 0)
    return (w or None), (h or None)


def region_stride(cfg: CfgDocument) -> float | None:
    """Input pixels per cell of the [region] grid (416 / 13 = 32 for YOLOv2; 16 for cfg/demo.cfg),
    from the network's own shapes; None without a [region] layer. Several [region] layers must
    agree."""
    if not any(s.name == "region" for s in cfg.sections):
        return None
    from darkpy.net.spec import build_spec

    # the spec stage marks the options it reads on the sections: check a copy, keep the document's
    return build_spec(copy.deepcopy(cfg.sections), cfg.path).region_stride()


def layer_units(cfg: CfgDocument) -> str | None:
    """'grid' for [region] layers, 'pixels' for [yolo]; None without anchor layers."""
    kinds = {s.name for s in anchor_layers(cfg)}
    if not kinds:
        return None
    if kinds == {"region"}:
        return "grid"
    if kinds == {"yolo"}:
        return "pixels"
    raise UsageError(f"{cfg.path} mixes [region] and [yolo] layers; choose --units grid|pixels")


def format_anchors(values: np.ndarray, units: str) -> str:
    """`w,h,  w,h, ...` as Darknet cfgs write them: pixels as integers, grid cells to 4 places."""
    pairs = []
    for w, h in np.asarray(values, dtype=np.float64).reshape(-1, 2):
        if units == "pixels":
            pairs.append(f"{max(1, int(round(w)))},{max(1, int(round(h)))}")
        else:
            pairs.append(f"{_grid(w)},{_grid(h)}")
    return ",  ".join(pairs)


def _grid(v: float) -> str:
    # 4 decimals as Darknet's cfgs do; a sub-0.01 cell (a box of a pixel or less) keeps 3 digits
    return f"{v:.4f}" if v >= 0.01 else f"{v:.3g}"


def write_anchors(
    path: str | Path,
    anchors: np.ndarray,
    *,
    width: int | None = None,
    height: int | None = None,
    stride: float | None = None,
    out: str | Path | None = None,
) -> list[Change]:
    """Set the anchors (normalised (k, 2) w, h, sorted by area) of every [region]/[yolo] layer.

    `stride` (pixels per [region] grid cell) defaults to the network's own. Writes `out`
    (default: the cfg itself, through a symlink, mode kept) atomically and returns what changed.
    """
    cfg = read_cfg_document(path)
    _plan(cfg, np.asarray(anchors, dtype=np.float64).reshape(-1, 2), width, height, stride)
    cfg.write(out)
    return list(cfg.changes)


def check_anchor_cfg(path: str | Path, k: int, *, width: int | None = None, height: int | None = None,
                     stride: float | None = None) -> None:
    """Raise the error `write_anchors` would raise for k anchors, before any clustering is done."""
    _plan(read_cfg_document(path), np.ones((k, 2)), width, height, stride)


def _plan(cfg: CfgDocument, anchors: np.ndarray, width: int | None, height: int | None,
          stride: float | None) -> None:
    """Record the new values in the document (`cfg.changes` lists them)."""
    k = len(anchors)
    layers = anchor_layers(cfg)
    if not layers:
        raise CfgError("no [region] or [yolo] layer to write anchors into", file=cfg.path)
    net_w, net_h = net_size(cfg)
    width, height = width or net_w, height or net_h
    if not width or not height:
        raise CfgError("no width/height in [net]; give --width/--height (or --size)", file=cfg.path)
    masks = _new_masks(layers, k)
    convs = {id(sec): _feeding_conv(cfg, sec) for sec in layers}
    if stride is None and any(sec.name == "region" for sec in layers):
        stride = region_stride(cfg)

    for sec in layers:
        classes = sec.int("classes", 20)
        if sec.name == "region":
            scaled = anchors * [width / stride, height / stride]
            filters = k * (sec.int("coords", 4) + 1 + classes)
        else:
            scaled = anchors * [width, height]
            mask = masks[sec.line]
            filters = (len(mask) if mask is not None else k) * (classes + 5)
            if mask is not None:
                cfg.set(sec, "mask", ",".join(str(m) for m in mask), after="anchors")
        cfg.set(sec, "anchors", format_anchors(scaled, "pixels" if sec.name == "yolo" else "grid"))
        cfg.set(sec, "num", str(k), after="anchors")
        cfg.set(convs[id(sec)], "filters", str(filters))


def _feeding_conv(cfg: CfgDocument, layer: Section) -> Section:
    idx = cfg.sections.index(layer)
    prev = cfg.sections[idx - 1] if idx > 0 else None
    if prev is None or prev.name != "convolutional":
        raise CfgError(
            f"[{layer.name}] must follow a [convolutional] layer, whose filters depend on the "
            "number of anchors", file=cfg.path, line=layer.line,
        )
    return prev


def _new_masks(layers: list[Section], k: int) -> dict[int, list[int] | None]:
    """New mask per [yolo] layer (keyed by header line): kept if the anchor count is unchanged,
    else the k anchors split into contiguous groups in the order of the old masks."""
    masked = []
    result: dict[int, list[int] | None] = {}
    for sec in layers:
        if sec.name != "yolo":
            continue
        if not sec.has("mask"):
            result[sec.line] = None
            continue
        old = sec.floats("mask")
        num = sec.int("num", 1)
        if num == k:
            result[sec.line] = [int(m) for m in old]
        else:
            masked.append((float(np.mean(old)) if old else 0.0, sec.line))
    if masked:
        if len(masked) > k:
            raise UsageError(
                f"{len(masked)} [yolo] layers with masks need at least {len(masked)} anchors, got k={k}"
            )
        groups = np.array_split(np.arange(k), len(masked))
        for (_, line), group in zip(sorted(masked), groups):
            result[line] = [int(g) for g in group]
    return result
