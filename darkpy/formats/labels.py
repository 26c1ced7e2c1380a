"""Darknet's label files: `class x y w h` per line, coordinates normalised to the image.

Finding a label from an image path follows Darknet's loader: the first `images` (then
`JPEGImages`, then `raw`) in the path becomes `labels`, and the image extension becomes `.txt`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from darkpy.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def label_path_for(image: str | Path) -> Path:
    text = str(image)
    for part in ("images", "JPEGImages", "raw"):
        text = text.replace(part, "labels", 1)
    root, dot, ext = text.rpartition(".")
    if dot and ("." + ext.lower()) in IMAGE_EXTENSIONS and "/" not in ext:
        text = root + ".txt"
    return Path(text)


def parse_labels(text: str, path: str | Path = "<labels>", classes: int | None = None) -> np.ndarray:
    """Parse label text into an (n, 5) float array; malformed lines are errors with line numbers."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise DataError(f"expected 5 fields 'class x y w h', got {len(fields)}", file=path, line=number)
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise DataError(f"not a number in {raw.strip()!r}", file=path, line=number) from None
        cls = values[0]
        if cls != int(cls) or cls < 0 or (classes is not None and cls >= classes):
            limit = f" (classes={classes})" if classes is not None else ""
            raise DataError(f"class {fields[0]} out of range{limit}", file=path, line=number)
        if not all(np.isfinite(values[1:])):
            raise DataError("coordinate is not finite", file=path, line=number)
        x, y, w, h = values[1:]
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and 0.0 <= w <= 1.0 and 0.0 <= h <= 1.0):
            raise DataError(f"coordinates outside [0,1]: {raw.strip()!r}", file=path, line=number)
        rows.append(values)
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


def read_labels(path: str | Path, classes: int | None = None) -> np.ndarray:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read label file: {exc.strerror}", file=path) from None
    return parse_labels(text, path, classes)
