"""What a number in a cfg may look like, and the range each key's value must lie in.

Darknet reads numbers with C's `atoi`/`atof`; Python's `int`/`float` accept more (`1_000`,
Arabic-Indic digits, `nan`, `inf`, `infinity`), and a value that parses can still be absurd
(`filters=-3`, `size=0`, `stride=1e9`, a learning rate of `nan`). Every typed value the layers
and `[net]` read goes through `parse_int` / `parse_float` (plain ASCII decimal notation, finite,
within C's int / float32 range) and `check_range` (the per-key bounds below), so a bad value is one
line naming the file and line instead of a traceback, a silent NaN or a huge allocation later.
"""
from __future__ import annotations

from darkpy.formats.numbers import (  # noqa: F401  (the one grammar; re-exported for the cfg readers)
    C_SPACE, FLOAT_MAX, FLOAT_RE, INT_MAX, BadNumber, parse_float, parse_int)


# key -> (lowest, highest) allowed, whatever the section; None: no bound on that side
RANGES: dict[str, tuple[float | None, float | None]] = {
    # kernels and strides: no real network comes near 4096, and a bigger one only serves to make
    # padded intermediate tensors too large to allocate
    "filters": (1, None), "size": (1, 4096), "stride": (1, 4096), "groups": (1, None),
    "batch": (1, None), "subdivisions": (1, None), "time_steps": (1, None),
    "width": (0, None), "height": (0, None), "channels": (0, None), "inputs": (0, None),
    "padding": (0, None), "output": (1, None), "crop_width": (1, None), "crop_height": (1, None),
    "classes": (0, None), "num": (1, None), "coords": (0, None), "max": (0, None),
    "max_batches": (0, None), "burn_in": (0, None), "step": (1, None), "max_crop": (0, None),
    "min_crop": (0, None), "temperature": (1e-9, None), "learning_rate": (0, None),
    "momentum": (0, None), "decay": (0, None), "jitter": (0, None), "power": (0, None),
    "saturation": (0, None), "exposure": (0, None), "aspect": (0, None),
}


def range_problem(key: str, value: float) -> str | None:
    """Why `value` is out of range for `key`, or None."""
    lo, hi = RANGES.get(key, (None, None))
    if lo is not None and value < lo:
        return f"'{key}' must be at least {lo:g}, got {value:g}"
    if hi is not None and value > hi:
        return f"'{key}' must be at most {hi:g}, got {value:g}"
    return None


def warn_anchors(anchors, file: str, line: int | None, where: str) -> None:
    """Anchors are box sizes: one at or below zero gives boxes of no (or negative) size, which
    Darknet takes silently (exp(t) * 0). Warned, naming the cfg line, not refused: the network
    still runs, only that anchor's boxes are useless."""
    bad = [a for a in anchors if not a > 0]
    if bad:
        import warnings

        warnings.warn(f"{file}:{line}: {where}: anchors must be above 0, got {', '.join(f'{a:g}' for a in bad[:4])}: "
                      f"those anchors give boxes of no size", stacklevel=3)
