"""Numbers as C reads them: the one grammar for every number darkpy takes from a text file.

Darknet reads cfg and `.data` numbers with `atoi`/`atof` and label numbers with `fscanf`; Python's
`int`/`float` accept more (`1_000`, Arabic-Indic or full-width digits, surrounding Unicode
spaces), so a file Darknet reads as 0 would mean 1000 here. `parse_int`/`parse_float` (cfg,
`.data`, `map=` files: finite, plain ASCII decimal notation, within C's int / float32 range) and
`c_float` (labels: C's `strtod`, which also spells out `nan`/`inf`) accept only what C reads the
same way, with the ASCII whitespace `isspace()` skips around it.
"""
from __future__ import annotations

import math
import re

INT_ZERO_FRACTION_RE = re.compile(r"([+-]?[0-9]+)(\.0*)?", re.ASCII)
FLOAT_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
INT_MAX = 2 ** 31 - 1          # Darknet keeps cfg integers in C ints
FLOAT_MAX = 3.4028234663852886e38
C_SPACE = " \t\n\v\f\r"   # what C's isspace() skips before a number (ASCII only: not U+00A0)
_C_FLOAT = re.compile(r"[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf(inity)?|nan)",
                      re.ASCII | re.IGNORECASE)


class BadNumber(ValueError):
    pass


def parse_float(text: str) -> float:
    text = text.strip(C_SPACE)
    if not FLOAT_RE.fullmatch(text):
        raise BadNumber(text)
    value = float(text)
    if not math.isfinite(value) or abs(value) > FLOAT_MAX:
        raise BadNumber(text)
    return value


def parse_int(text: str) -> int:
    """An integer; `3.0` is accepted as 3 (as `atoi` reads it). `3.5` and `3e2` are refused: `atoi`
    would read 3 where the writer surely meant something else."""
    m = INT_ZERO_FRACTION_RE.fullmatch(text.strip(C_SPACE))
    if m is None:
        raise BadNumber(text)
    value = int(m.group(1))
    if abs(value) > INT_MAX:
        raise BadNumber(text)
    return value


def c_float(text: str) -> float:
    """A number as C's `strtod` reads it (ASCII digits; `nan`/`inf` spelled out), whole field only.
    Python's `float` also takes `0_1` and Arabic-Indic or full-width digits, which Darknet reads as 0."""
    if not _C_FLOAT.fullmatch(text):
        raise BadNumber(text)
    return float(text)
