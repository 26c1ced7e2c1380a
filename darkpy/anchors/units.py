"""Converting normalised anchor shapes to the units a cfg wants, and back.

[region] layers (YOLOv2) measure anchors in cells of the output grid: w * width / stride.
[yolo] layers (YOLOv3) measure them in pixels of the network input: w * width.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from darkpy.anchors.cfgedit import format_anchors, layer_units, net_size, read_cfg_text, region_stride
from darkpy.errors import UsageError

UNITS = ("grid", "pixels")


def scale(units: str, width: int, height: int, stride: int = 32) -> np.ndarray:
    """Per-axis factor from normalised (w, h) to `units`."""
    if units == "grid":
        return np.array([width / stride, height / stride], dtype=np.float64)
    if units == "pixels":
        return np.array([width, height], dtype=np.float64)
    raise UsageError(f"units must be one of {', '.join(UNITS)}, got {units!r}")


def to_units(anchors: np.ndarray, units: str, width: int, height: int, stride: int = 32) -> np.ndarray:
    return np.asarray(anchors, dtype=np.float64).reshape(-1, 2) * scale(units, width, height, stride)


def from_units(anchors: np.ndarray, units: str, width: int, height: int, stride: int = 32) -> np.ndarray:
    return np.asarray(anchors, dtype=np.float64).reshape(-1, 2) / scale(units, width, height, stride)


def parse_anchor_list(text: str) -> np.ndarray:
    """'1.08,1.19, 3.42,4.41' (commas and/or spaces) -> (k, 2); an odd count or a bad number is an error."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"anchors must be numbers separated by commas, got {text!r}") from None
    if not values or len(values) % 2:
        raise UsageError(f"anchors come in w,h pairs; got {len(values)} numbers")
    arr = np.array(values, dtype=np.float64).reshape(-1, 2)
    if np.any(arr <= 0) or not np.all(np.isfinite(arr)):
        raise UsageError("anchor widths and heights must be positive")
    return arr


@dataclass(frozen=True)
class AnchorFrame:
    """The units anchors are shown in and the network size (and grid stride) that convert them."""

    units: str
    width: int
    height: int
    stride: float = 32

    def shown(self, anchors: np.ndarray) -> np.ndarray:
        """Normalised (w, h) in this frame's units."""
        return to_units(anchors, self.units, self.width, self.height, self.stride)

    def normalised(self, anchors: np.ndarray) -> np.ndarray:
        """Anchors given in this frame's units, as normalised (w, h)."""
        return from_units(anchors, self.units, self.width, self.height, self.stride)

    def cfg_line(self, anchors: np.ndarray) -> tuple[str, np.ndarray]:
        """The `anchors =` value for normalised `anchors`, and the numbers that line holds (in this
        frame's units, rounded as written: what a network trained on the cfg gets)."""
        line = format_anchors(self.shown(anchors), self.units)
        return line, np.array([float(v) for v in re.split(r"[,\s]+", line) if v]).reshape(-1, 2)

    def describe(self) -> str:
        return f"{self.width}x{self.height}" + (f", stride {self.stride:g}" if self.units == "grid" else "")


def anchor_frame(cfg: str | Path | None = None, units: str | None = None, width: int | None = None,
                 height: int | None = None, stride: float | None = None) -> AnchorFrame:
    """The frame for a cfg: its layer type's units ([region]: grid, [yolo]: pixels), its [net]
    size and its [region] grid's stride; given values win, and without a cfg the defaults are
    YOLOv2's (grid cells of 32 pixels, 416x416)."""
    doc = read_cfg_text(cfg) if cfg is not None else None
    if units is not None and units not in UNITS:
        raise UsageError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    units = units or (layer_units(doc) if doc is not None else None) or "grid"
    cfg_w, cfg_h = net_size(doc) if doc is not None else (None, None)
    if stride is None:
        stride = (region_stride(doc) if doc is not None and units == "grid" else None) or 32
    return AnchorFrame(units, width or cfg_w or 416, height or cfg_h or 416, stride)
