"""Backups as Darknet's `train_detector` writes them, plus a side file for exact resumption.

Darknet, after the update that makes the batch number `i`:

- `BACKUP/NAME.backup` when `i % 100 == 0`;
- `BACKUP/NAME_i.weights` when `i % 10000 == 0`, or `i < 1000` and `i % 100 == 0`;
- `BACKUP/NAME_final.weights` after the last batch.

All are Darknet `.weights` files (the header's `seen` gives the batch number back) written
atomically. Next to `NAME.backup`, darkpy writes `NAME.backup.state` (`torch.save` of plain
tensors, lists and numbers: momentum buffers, RNG states, the running average loss, the loss
history for the chart) so that `--resume` continues exactly where the run stopped; it is read
with `torch.load(..., weights_only=True)`. The weights are written first; a state whose `seen`
does not match the weights is ignored with a warning (momentum then restarts from zero).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from darkpy.fileio import atomic_write

BACKUP_EVERY = 100
SNAPSHOT_EVERY = 10000
EARLY_UNTIL = 1000


def backup_path(backup_dir: str | Path, name: str) -> Path:
    return Path(backup_dir) / f"{name}.backup"


def state_path(backup_dir: str | Path, name: str) -> Path:
    return Path(backup_dir) / f"{name}.backup.state"


def snapshot_path(backup_dir: str | Path, name: str, i: int | str) -> Path:
    return Path(backup_dir) / f"{name}_{i}.weights"


def final_path(backup_dir: str | Path, name: str) -> Path:
    return Path(backup_dir) / f"{name}_final.weights"


def wants_backup(i: int) -> bool:
    return i > 0 and i % BACKUP_EVERY == 0


def wants_snapshot(i: int) -> bool:
    return i > 0 and (i % SNAPSHOT_EVERY == 0 or (i < EARLY_UNTIL and i % BACKUP_EVERY == 0))


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)


def load_state(path: str | Path) -> dict[str, Any] | None:
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
