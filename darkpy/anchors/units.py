"""Converting normalised anchor shapes to the units a cfg wants, and back.

[region] layers (YOLOv2) measure anchors in cells of the output grid: w * width / stride.
[yolo] layers (YOLOv3) measure them in pixels of the network input: w * width.
"""
from __future__ import annotations

import re

import numpy as np

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
