"""Darknet `.weights` files.

Layout: int32 major, minor, revision; then `seen` (images trained on) as int64 when
major*10+minor >= 2 and both are below 1000, else int32; then, for every layer with parameters in
cfg order, its floats in the order the layer defines (conv: biases, [BN scales, rolling mean,
rolling variance], weights). A file may stop at a layer boundary (a "partial" file such as
`darknet19_448.conv.23`); whether that is accepted is the caller's decision (`allow_partial`):
training and `partial` take it (the layers it has are loaded and the count is reported), while
detection, evaluation, export and benchmarks refuse it, since the uncovered layers would run on
random values and give silently wrong results. Stopping inside a layer, or having floats left
over, means the file does not fit the cfg: always an error. So is a `seen` count that is negative
or beyond 2^53 (no run sees that many images: the header is corrupt).

Reading is one `numpy.fromfile`; parameters then alias slices of that buffer (no copy), so
loading costs little more than reading the bytes. A load that converts the weights (bf16 or fp16
inference) reads one layer at a time instead (`read_layers`), so the whole float32 body never
sits beside the converted copy. Nothing is unpickled.
"""
from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from darkpy.assets import locate
from darkpy.errors import WeightsError
from darkpy.fileio import atomic_write, open_regular

if TYPE_CHECKING:
    import torch

    from darkpy.net.layers.base import Layer
    from darkpy.net.spec import LayerSpec


MAX_SEEN = 2 ** 53


@dataclass
class WeightsHeader:
    major: int = 0
    minor: int = 2
    revision: int = 0
    seen: int = 0

    @property
    def seen_is_int64(self) -> bool:
        return (self.major * 10 + self.minor) >= 2 and self.major < 1000 and self.minor < 1000

    @property
    def transpose(self) -> bool:
        """Darknet's flag for connected weights stored inputs-major (very old files)."""
        return self.major > 1000 or self.minor > 1000

    @property
    def nbytes(self) -> int:
        return 12 + (8 if self.seen_is_int64 else 4)

    def pack(self) -> bytes:
        head = struct.pack("<iii", self.major, self.minor, self.revision)
        return head + (struct.pack("<q", self.seen) if self.seen_is_int64 else struct.pack("<i", self.seen & 0xFFFFFFFF))

    @classmethod
    def unpack(cls, raw: bytes, path: str | Path) -> "WeightsHeader":
        if len(raw) < 16:
            raise WeightsError(f"file is {len(raw)} bytes, shorter than a .weights header", file=path)
        major, minor, revision = struct.unpack_from("<iii", raw, 0)
        h = cls(major, minor, revision, 0)
        if h.seen_is_int64:
            if len(raw) < 20:
                raise WeightsError("file ends inside the header", file=path)
            h.seen = struct.unpack_from("<q", raw, 12)[0]
            if not 0 <= h.seen <= MAX_SEEN:
                raise WeightsError(f"the header's image count seen={h.seen} is out of range (0..2^53): "
                                   f"not a Darknet weights file, or a corrupt one", file=path)
        else:
            h.seen = struct.unpack_from("<I", raw, 12)[0]
        return h


@dataclass
class LoadReport:
    path: Path
    header: WeightsHeader
    layers_loaded: int           # layers with parameters that were filled
    layers_total: int            # layers with parameters in the cfg
    last_layer_index: int        # cfg index of the last filled layer (-1: none)
    floats: int

    @property
    def partial(self) -> bool:
        return self.layers_loaded < self.layers_total

    def __str__(self) -> str:
        what = "partial: " if self.partial else ""
        return (f"{self.path}: {what}loaded {self.layers_loaded} of {self.layers_total} layers with weights "
                f"(up to layer {self.last_layer_index}), {self.floats:,} floats, seen={self.header.seen}, "
                f"version {self.header.major}.{self.header.minor}.{self.header.revision}")


def read_weights_file(path: str | Path, *, mmap: bool = False) -> tuple[Path, WeightsHeader, np.ndarray]:
    """The one reader of a weights file's header, for both engines: the path (a bundled file by
    its relative name), the checked header (`seen` in range) and the float32 body. Anything but a
    regular file (a FIFO, a device, a folder) is refused at once. `mmap`: map the file instead of
    reading it (the numpy engine keeps its weights in the page cache, no copy)."""
    path = locate(path)
    with open_regular(path, "weights", WeightsError) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if mmap and size >= 20:
                raw = np.memmap(fh, dtype=np.uint8, mode="r")
            else:
                raw = np.fromfile(fh, dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot read weights: {getattr(exc, 'strerror', None) or exc}", file=path) from None
    header = WeightsHeader.unpack(bytes(raw[:20]), path)
    body = raw[header.nbytes:]
    if body.size % 4:
        raise WeightsError(f"{body.size} bytes after the header is not a whole number of floats", file=path)
    return path, header, body.view("<f4")


def strict_mode() -> bool:
    """`darkpy --strict` (or DARKPY_STRICT=1): questionable weights are refused, not warned about."""
    return os.environ.get("DARKPY_STRICT", "") not in ("", "0")


def check_finite(floats: np.ndarray, spans: Iterable[tuple[str, int, int]], path: str | Path,
                 strict: bool | None = None) -> list[str]:
    """NaN or infinite weights make every output NaN (`classifier predict` would print
    `nan%: kit fox`). One vectorised pass over the whole body; only when it finds something are
    the layers (`spans`: description, first float, end) searched, to name each one. A warning per
    layer, or with `strict` (default: `strict_mode()`) a WeightsError naming the first."""
    if floats.size == 0 or np.isfinite(floats.sum(dtype=np.float64)):  # any NaN/inf makes the sum so
        return []
    bad = []
    for what, start, end in spans:
        part = floats[start:end]
        n = int(part.size - np.count_nonzero(np.isfinite(part)))
        if n:
            bad.append(f"{what} has {n} NaN or infinite weights")
    if strict if strict is not None else strict_mode():
        raise WeightsError(f"{bad[0] if bad else 'NaN or infinite weights'} (refused: --strict)", file=path)
    for line in bad:
        warnings.warn(f"{path}: {line}: its outputs will be NaN", stacklevel=3)
    return bad


class WeightsReader:
    """Hands out consecutive float runs from a weights file to the layers that own them."""

    def __init__(self, plan: "WeightsPlan", floats: np.ndarray | None = None):
        """`floats`: one layer's run (from `read_layers`) instead of the plan's whole body."""
        self.path, self.header = plan.path, plan.header
        self.floats = plan.floats if floats is None else floats
        self.pos = 0
        self.transpose = self.header.transpose

    @property
    def remaining(self) -> int:
        return self.floats.size - self.pos

    def read_into(self, tensor: torch.Tensor, layer: "Layer", what: str) -> None:
        import torch  # here, not at the top: the torch-free numpy engine reads headers through this module

        n = tensor.numel()
        if n > self.remaining:
            raise WeightsError(f"truncated in layer {layer.index} ({layer.section_name}) {what}: expected {n} floats, "
                               f"found {self.remaining}", file=self.path)
        src = torch.from_numpy(self.floats[self.pos:self.pos + n]).view(tensor.shape)
        if tensor.device.type == "cpu" and tensor.dtype == torch.float32:
            tensor.data = src  # zero-copy: the parameter aliases the file buffer
        else:
            with torch.no_grad():
                tensor.copy_(src)
        self.pos += n


class WeightsWriter:
    def __init__(self, fh, header: WeightsHeader):
        self.fh = fh
        self.transpose = header.transpose
        fh.write(header.pack())

    def write(self, tensor: torch.Tensor) -> None:
        self.fh.write(tensor.detach().float().cpu().contiguous().numpy().astype("<f4", copy=False).tobytes())


@dataclass
class WeightsPlan:
    """Where each layer's floats lie in a weights file, checked against the layer specs before
    anything is read into a network: both engines load through one plan."""

    path: Path
    header: WeightsHeader
    floats: np.ndarray               # the file's body (float32)
    entries: list[tuple["LayerSpec", int]]  # layers the file fills, with their first float
    layers_total: int                # layers with parameters that were asked for

    @property
    def end(self) -> int:
        if not self.entries:
            return 0
        spec, start = self.entries[-1]
        return start + spec.num_weight_floats()

    def report(self) -> LoadReport:
        last = self.entries[-1][0].index if self.entries else -1
        return LoadReport(self.path, self.header, len(self.entries), self.layers_total, last, self.end)


def plan_weights(layers: Iterable["LayerSpec"], path: str | Path, upto: int | None = None, *,
                 allow_partial: bool = False, strict: bool | None = None, mmap: bool = False,
                 check_values: bool = True) -> WeightsPlan:
    """Read a Darknet weights file (`read_weights_file`) and place its floats on `layers` (specs,
    in cfg order; `upto` stops before that index). A file that ends at a layer boundary before the
    last layer is an error unless `allow_partial`; one that ends inside a layer, or has floats
    left over, always is. NaN/inf weights are a warning naming the layer, an error with `strict`
    (see `check_finite`). `check_values=False` leaves that check to `read_layers`, which makes it
    layer by layer (with `mmap`, planning then reads nothing but the header)."""
    path, header, floats = read_weights_file(path, mmap=mmap)
    weighted = [l for l in layers if l.has_weights and (upto is None or l.index < upto)]
    total_needed = sum(l.num_weight_floats() for l in weighted)
    entries: list[tuple[LayerSpec, int]] = []
    pos = 0
    for layer in weighted:
        remaining = floats.size - pos
        if remaining == 0:
            break
        need = layer.num_weight_floats()
        if need > remaining:
            raise WeightsError(
                f"truncated: layer {layer.index} ({layer.section_name}) needs {need} floats but only "
                f"{remaining} remain; the cfg expects {total_needed} floats in all, the file has "
                f"{floats.size}", file=path)
        entries.append((layer, pos))
        pos += need
    if pos < floats.size and upto is None:
        raise WeightsError(
            f"{floats.size - pos} floats left over after the last layer: the cfg expects {total_needed} floats, "
            f"the file has {floats.size} (wrong cfg for these weights?)", file=path)
    if len(entries) < len(weighted) and not allow_partial:
        missing = weighted[len(entries)]
        raise WeightsError(
            f"holds {len(entries)} of {len(weighted)} layers with weights (it ends before layer {missing.index} "
            f"[{missing.section_name}]): a partial or truncated file; the missing layers would run on random "
            f"values (use the complete weights for this cfg, or `darkpy train` to start from it)", file=path)
    plan = WeightsPlan(path, header, floats, entries, len(weighted))
    if check_values:
        check_finite(floats[:plan.end], [(_layer_name(l), start, start + l.num_weight_floats())
                                         for l, start in entries], path, strict)
    return plan


def _layer_name(spec: "LayerSpec") -> str:
    return f"layer {spec.index} [{spec.section_name}]"


def read_layers(plan: WeightsPlan, strict: bool | None = None) -> Iterator[tuple["LayerSpec", np.ndarray]]:
    """Each planned layer with its floats, read from the file one layer at a time into one buffer
    the size of the largest layer: a caller that converts each layer (bf16/fp16 inference) never
    holds the whole float32 body, and no mapped pages or freed heap blocks are left resident.
    The array a layer gets is overwritten by the next layer's: copy what must outlive the step.
    Each layer is checked for NaN/inf as `plan_weights` checks the body (same lines: a warning
    per layer, or with `strict` a WeightsError naming it)."""
    if not plan.entries:
        return
    buffer = np.empty(max(spec.num_weight_floats() for spec, _ in plan.entries), dtype="<f4")
    with open_regular(plan.path, "weights", WeightsError) as fh:
        for spec, start in plan.entries:
            n = spec.num_weight_floats()
            floats = buffer[:n]
            try:
                fh.seek(plan.header.nbytes + 4 * start)
                got = fh.readinto(memoryview(floats).cast("B"))
            except (OSError, ValueError) as exc:
                raise WeightsError(f"cannot read weights: {getattr(exc, 'strerror', None) or exc}",
                                   file=plan.path) from None
            if got < 4 * n:  # the file shrank since it was planned
                raise WeightsError(f"truncated in layer {spec.index} ({spec.section_name}): expected {n} floats, "
                                   f"found {got // 4}", file=plan.path)
            check_finite(floats, [(_layer_name(spec), 0, n)], plan.path, strict)
            yield spec, floats


def load_weights(layers: Iterable["Layer"], path: str | Path, upto: int | None = None, *,
                 allow_partial: bool = False, strict: bool | None = None) -> LoadReport:
    """Fill torch `layers` (in cfg order) from a Darknet weights file, as `plan_weights` places it."""
    layers = list(layers)
    by_spec = {id(l.spec): l for l in layers}
    plan = plan_weights([l.spec for l in layers], path, upto, allow_partial=allow_partial, strict=strict)
    reader = WeightsReader(plan)
    for spec, start in plan.entries:
        reader.pos = start
        by_spec[id(spec)].load_darknet(reader)
    report = plan.report()
    report.path = Path(path)
    return report


def save_weights(layers: Iterable["Layer"], path: str | Path, header: WeightsHeader,
                 upto: int | None = None) -> Path:
    """Write layers (all, or those before index `upto`) atomically: temp file, then rename."""
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        writer = WeightsWriter(fh, header)
        for layer in layers:
            if upto is not None and layer.index >= upto:
                break
            if layer.has_weights:
                layer.save_darknet(writer)
    return path
