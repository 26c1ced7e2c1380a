"""The training batch: `--batch` / `--subdivisions` overrides and the `batch=1` warning.

Darknet's shipped cfgs used to carry their "Testing" values (batch=1, subdivisions=1) active, and
a network trained that way takes one image per optimiser step: a run that looks normal and
learns far worse than the paper. Detection ignores `batch`, so the shipped cfgs now keep the
training values active; when a cfg still says batch=1 the trainer names the line to change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from darkpy.errors import UsageError


def apply_batch(net, cfg: str | Path, batch: Optional[int], subdivisions: Optional[int],
                warn: Callable[[str], None]) -> None:
    """Override the cfg's batch/subdivisions on `net.net` and warn about a one-image batch."""
    if batch is not None and batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    if subdivisions is not None and subdivisions < 1:
        raise UsageError(f"--subdivisions must be at least 1, got {subdivisions}")
    n = net.net
    if batch is not None:
        n.batch = int(batch)
    if subdivisions is not None:
        n.subdivisions = int(subdivisions)
    if n.subdivisions > n.batch:
        raise UsageError(f"subdivisions={n.subdivisions} is larger than batch={n.batch}: each pass needs at "
                         f"least one image")
    if n.batch == 1 and batch is None:
        line = n.batch_line if not (isinstance(cfg, str) and "\n" in cfg) else 0  # read with the spec
        where = f"{cfg}:{line}" if line else str(cfg)
        warn(f"{where}: batch=1 trains on one image per step (the cfg's testing value); use the training "
             f"values (e.g. batch=64, subdivisions=8) or --batch/--subdivisions")
