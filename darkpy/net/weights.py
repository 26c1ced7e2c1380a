"""Darknet `.weights` files.

Layout: int32 major, minor, revision; then `seen` (images trained on) as int64 when
major*10+minor >= 2 and both are below 1000, else int32; then, for every layer with parameters in
cfg order, its floats in the order the layer defines (conv: biases, [BN scales, rolling mean,
rolling variance], weights). A file may stop at a layer boundary (a "partial" file such as
`darknet19_448.conv.23`): the layers it has are loaded and the count is reported. Stopping inside
a layer, or having floats left over, means the file does not fit the cfg: an error.

Reading is one `numpy.fromfile`; parameters then alias slices of that buffer (no copy), so
loading costs little more than reading the bytes. Nothing is unpickled.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import torch

from darkpy.errors import WeightsError
from darkpy.fileio import atomic_write

if TYPE_CHECKING:
    from darkpy.net.layers.base import Layer


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


class WeightsReader:
    """Hands out consecutive float runs from a weights file to the layers that own them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            raw = np.fromfile(self.path, dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot read weights: {getattr(exc, 'strerror', None) or exc}", file=self.path) from None
        self.header = WeightsHeader.unpack(raw[:20].tobytes(), self.path)
        body = raw[self.header.nbytes:]
        if body.size % 4:
            raise WeightsError(f"{body.size} bytes after the header is not a whole number of floats", file=self.path)
        self.floats = body.view("<f4")
        self.pos = 0
        self.transpose = self.header.transpose

    @property
    def remaining(self) -> int:
        return self.floats.size - self.pos

    def read_into(self, tensor: torch.Tensor, layer: "Layer", what: str) -> None:
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
        self.fh.write(tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4", copy=False).tobytes())


def load_weights(layers: Iterable["Layer"], path: str | Path, upto: int | None = None) -> LoadReport:
    """Fill `layers` (in cfg order) from a Darknet weights file; `upto` stops before that index."""
    reader = WeightsReader(path)
    weighted = [l for l in layers if l.has_weights and (upto is None or l.index < upto)]
    total_needed = sum(l.num_weight_floats() for l in weighted)
    loaded, last = 0, -1
    for layer in weighted:
        if reader.remaining == 0:
            break
        need = layer.num_weight_floats()
        if need > reader.remaining:
            raise WeightsError(
                f"truncated: layer {layer.index} ({layer.section_name}) needs {need} floats but only "
                f"{reader.remaining} remain; the cfg expects {total_needed} floats in all, the file has "
                f"{reader.floats.size}", file=reader.path)
        layer.load_darknet(reader)
        loaded, last = loaded + 1, layer.index
    if reader.remaining and upto is None:
        raise WeightsError(
            f"{reader.remaining} floats left over after the last layer: the cfg expects {total_needed} floats, "
            f"the file has {reader.floats.size} (wrong cfg for these weights?)", file=reader.path)
    return LoadReport(Path(path), reader.header, loaded, len(weighted), last, reader.pos)


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
