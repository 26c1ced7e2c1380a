"""`darkpy partial`: the first N layers' weights of a network, as Darknet's `partial` writes them.

Darknet loads the network with `clear` set (the `seen` counter becomes 0) and writes a
version 0.2.0 header followed by the parameters of layers 0..N-1 (`save_weights_upto`). The
result (e.g. `darknet19_448.conv.23`) starts a new training run, typically a detector that shares
those layers: loading it fills exactly those layers and reports the rest as not loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from darkpy.errors import UsageError, WeightsError
from darkpy.net.weights import WeightsHeader
from darkpy.net.model import parse_network


@dataclass
class PartialReport:
    out: Path
    upto: int              # layers 0..upto-1 were written
    layers: int            # layers in the cfg
    weighted: int          # layers with weights written
    floats: int
    seen: int

    def __str__(self) -> str:
        return (f"{self.out}: layers 0-{self.upto - 1} of {self.layers} ({self.weighted} with weights, "
                f"{self.floats:,} floats), seen={self.seen}")


def write_partial(cfg: str | Path, weights: str | Path, out: str | Path, n: int, *,
                  keep_seen: bool = False) -> PartialReport:
    if n < 0:
        raise UsageError(f"N must be 0 or more, got {n}")
    net = parse_network(cfg)
    upto = min(n, len(net.layers))
    weighted = [l for l in net.layers if l.has_weights and l.index < upto]
    report = net.load_weights(weights, upto=upto)
    if report.layers_loaded < len(weighted):
        missing = weighted[report.layers_loaded]
        raise WeightsError(f"holds weights for {report.layers_loaded} layers only; layer {missing.index} "
                           f"({missing.section_name}) and later, below N={n}, are not in it", file=weights)
    seen = report.header.seen if keep_seen else 0
    net.header = WeightsHeader(0, 2, 0, seen)
    net.save_weights(out, upto=upto)
    floats = sum(l.num_weight_floats() for l in weighted)
    return PartialReport(Path(out), upto, len(net.layers), len(weighted), floats, seen)
