"""Reading the anchor layers of a Darknet .cfg and rewriting their anchors in place.

The rewrite touches only the values that must change (`anchors`, `num`, `mask` when the anchor
count changes, and `filters` of the [convolutional] feeding each layer); every other byte (comments,
spacing, blank lines, CRLF line endings) is kept. Lines are read the way Darknet reads them: all
whitespace removed, `#`/`;` lines are comments, `[...]` starts a section.

Units: a [region] layer (YOLOv2) takes anchors in cells of its output grid, a [yolo] layer
(YOLOv3) in pixels of the network input, so each layer gets the anchors in its own units.

Masks: in YOLOv3 every [yolo] layer lists all `num` anchors but predicts only those in its `mask`
(the coarsest grid takes the biggest ones). If the anchor count stays the same, masks are kept.
If it changes, the old masks no longer mean anything, so the k new anchors (sorted by area) are
split into as many contiguous groups as there are masked layers, as evenly as possible, and the
layer whose old mask held the smallest anchors gets the smallest group, and so on. A layer
without a mask uses every anchor. `filters` follows: region num*(coords+1+classes), yolo
len(mask)*(classes+5).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darkpy.errors import CfgError, UsageError
from darkpy.fileio import atomic_write

_VALUE = re.compile(r"^([^=]*=[ \t]*)(.*?)([ \t]*)$")


@dataclass
class Section:
    kind: str                     # "net", "convolutional", "region", "yolo", ...
    line: int                     # 0-based index of the header line
    options: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (line, value)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options[key][1] if key in self.options else default

    def int(self, key: str, default: int, path: Path) -> int:
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise CfgError(f"'{key}' must be an integer, got {value!r}", file=path,
                           line=self.options[key][0] + 1) from None

    def floats(self, key: str, path: Path) -> list[float] | None:
        value = self.get(key)
        if value is None:
            return None
        try:
            return [float(v) for v in value.split(",") if v != ""]
        except ValueError:
            raise CfgError(f"'{key}' must be a list of numbers, got {value!r}", file=path,
                           line=self.options[key][0] + 1) from None


@dataclass
class CfgText:
    """A cfg file as its raw lines (ends kept) plus the sections Darknet would see."""

    path: Path
    lines: list[str]
    sections: list[Section]
    newline: str

    @property
    def net(self) -> Section | None:
        for s in self.sections:
            if s.kind in ("net", "network"):
                return s
        return None

    def anchor_layers(self) -> list[Section]:
        return [s for s in self.sections if s.kind in ("region", "yolo")]

    def net_size(self) -> tuple[int | None, int | None]:
        net = self.net
        if net is None:
            return None, None
        w, h = net.int("width", 0, self.path), net.int("height", 0, self.path)
        return (w or None), (h or None)

    def text(self) -> str:
        return "".join(self.lines)


def read_cfg_text(path: str | Path) -> CfgText:
    path = Path(path)
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            text = fh.read()
    except OSError as exc:
        raise CfgError(f"cannot read cfg: {exc.strerror}", file=path) from None
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    sections: list[Section] = []
    for i, raw in enumerate(lines):
        content = "".join(raw.split())
        if not content or content[0] in "#;":
            continue
        if content[0] == "[":
            if not content.endswith("]"):
                raise CfgError(f"section header not closed: {raw.strip()!r}", file=path, line=i + 1)
            sections.append(Section(content[1:-1], i))
            continue
        if not sections:
            raise CfgError("option before the first [section]", file=path, line=i + 1)
        key, eq, value = content.partition("=")
        if not eq:
            raise CfgError(f"expected 'key=value', got {raw.strip()!r}", file=path, line=i + 1)
        sections[-1].options[key] = (i, value)
    return CfgText(path, lines, sections, newline)


def layer_units(cfg: CfgText) -> str | None:
    """'grid' for [region] layers, 'pixels' for [yolo]; None without anchor layers."""
    kinds = {s.kind for s in cfg.anchor_layers()}
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


@dataclass
class Change:
    line: int         # 1-based, in the original file (for inserted lines: the line it follows)
    old: str | None
    new: str

    def __str__(self) -> str:
        if self.old is None:
            return f"line {self.line}: inserted after it: {self.new}"
        return f"line {self.line}: {self.old} -> {self.new}"


def write_anchors(
    path: str | Path,
    anchors: np.ndarray,
    *,
    width: int | None = None,
    height: int | None = None,
    stride: int = 32,
    out: str | Path | None = None,
) -> list[Change]:
    """Set the anchors (normalised (k, 2) w, h, sorted by area) of every [region]/[yolo] layer.

    Writes `out` (default: the cfg itself) atomically and returns what changed.
    """
    cfg = read_cfg_text(path)
    edits, inserts = _plan(cfg, np.asarray(anchors, dtype=np.float64).reshape(-1, 2), width, height, stride)
    changes: list[Change] = []
    lines = list(cfg.lines)
    for i, value in edits.items():
        body = lines[i].rstrip("\r\n")
        ending = lines[i][len(body):]
        m = _VALUE.match(body)
        assert m is not None  # every edited line was parsed as key=value
        if m.group(2) == value:
            continue
        lines[i] = m.group(1) + value + m.group(3) + ending
        changes.append(Change(i + 1, body.strip(), lines[i].strip()))
    for i in sorted(inserts, reverse=True):
        if not lines[i].endswith(("\n", "\r")):
            lines[i] += cfg.newline
        lines[i + 1:i + 1] = [text + cfg.newline for text in inserts[i]]
        changes.extend(Change(i + 1, None, text) for text in inserts[i])
    changes.sort(key=lambda c: c.line)
    target = Path(out) if out is not None else cfg.path
    with atomic_write(target, "wb") as fh:
        fh.write("".join(lines).encode("utf-8", errors="surrogateescape"))
    return changes


def check_anchor_cfg(path: str | Path, k: int, *, width: int | None = None, height: int | None = None,
                     stride: int = 32) -> None:
    """Raise the error `write_anchors` would raise for k anchors, before any clustering is done."""
    _plan(read_cfg_text(path), np.ones((k, 2)), width, height, stride)


def _plan(cfg: CfgText, anchors: np.ndarray, width: int | None, height: int | None,
          stride: int) -> tuple[dict[int, str], dict[int, list[str]]]:
    """New values for existing lines (by index) and new lines to insert (after an index)."""
    k = len(anchors)
    layers = cfg.anchor_layers()
    if not layers:
        raise CfgError("no [region] or [yolo] layer to write anchors into", file=cfg.path)
    net_w, net_h = cfg.net_size()
    width, height = width or net_w, height or net_h
    if not width or not height:
        raise CfgError("no width/height in [net]; give --width/--height (or --size)", file=cfg.path)

    edits: dict[int, str] = {}      # line index -> new value
    inserts: dict[int, list[str]] = {}  # line index -> lines to insert after it
    masks = _new_masks(cfg, layers, k)

    for sec in layers:
        classes = sec.int("classes", 20, cfg.path)
        if sec.kind == "region":
            scaled = anchors * [width / stride, height / stride]
            filters = k * (sec.int("coords", 4, cfg.path) + 1 + classes)
        else:
            scaled = anchors * [width, height]
            mask = masks[sec.line]
            filters = (len(mask) if mask is not None else k) * (classes + 5)
            if mask is not None:
                _set(sec, "mask", ",".join(str(m) for m in mask), edits, inserts, after="anchors")
        _set(sec, "anchors", format_anchors(scaled, "pixels" if sec.kind == "yolo" else "grid"),
             edits, inserts)
        _set(sec, "num", str(k), edits, inserts, after="anchors")
        conv = _feeding_conv(cfg, sec)
        _set(conv, "filters", str(filters), edits, inserts)
    return edits, inserts


def _set(sec: Section, key: str, value: str, edits: dict[int, str], inserts: dict[int, list[str]],
         after: str | None = None) -> None:
    if key in sec.options:
        edits[sec.options[key][0]] = value
        return
    anchor_line = sec.options[after][0] if after and after in sec.options else sec.line
    inserts.setdefault(anchor_line, []).append(f"{key}={value}")


def _feeding_conv(cfg: CfgText, layer: Section) -> Section:
    idx = cfg.sections.index(layer)
    prev = cfg.sections[idx - 1] if idx > 0 else None
    if prev is None or prev.kind not in ("convolutional", "conv"):
        raise CfgError(
            f"[{layer.kind}] must follow a [convolutional] layer, whose filters depend on the "
            "number of anchors", file=cfg.path, line=layer.line + 1,
        )
    return prev


def _new_masks(cfg: CfgText, layers: list[Section], k: int) -> dict[int, list[int] | None]:
    """New mask per [yolo] layer (keyed by header line): kept if the anchor count is unchanged,
    else the k anchors split into contiguous groups in the order of the old masks."""
    masked = []
    result: dict[int, list[int] | None] = {}
    for sec in layers:
        if sec.kind != "yolo":
            continue
        old = sec.floats("mask", cfg.path)
        if old is None:
            result[sec.line] = None
            continue
        num = sec.int("num", 1, cfg.path)
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
