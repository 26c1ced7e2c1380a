"""Backups as Darknet's `train_detector` writes them, plus the state for exact resumption.

Darknet, after the update that makes the batch number `i`:

- `BACKUP/NAME.backup` when `i % 100 == 0`;
- `BACKUP/NAME_i.weights` when `i % 10000 == 0`, or `i < 1000` and `i % 100 == 0`;
- `BACKUP/NAME_final.weights` after the last batch.

All are Darknet `.weights` files (the header's `seen` gives the batch number back) written
atomically. Next to `NAME.backup`, darkpy writes `NAME.backup.state` (`torch.save` of plain
tensors, lists and numbers: momentum buffers, RNG states, the running average loss, the loss
history, every hook's state) so that `--resume` continues exactly where the run stopped; it is
read with `torch.load(..., weights_only=True)`.

The two files are one checkpoint: both are written completely under temporary names, the state
records a digest of the weights bytes, then both are renamed into place (weights first). On
resume a state whose digest does not match `NAME.backup` is never used (a warning says so, and
momentum restarts from zero), so a kill between the two renames cannot pair new weights with an
old state. Temporaries left by a killed run are removed when the next run starts.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, Callable

import torch

from darkpy.errors import UsageError
from darkpy.fileio import atomic_write, probe_folder

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


def wants_backup(i: int, every: int | None = None) -> bool:
    every = BACKUP_EVERY if every is None else every
    return i > 0 and every > 0 and i % every == 0


def wants_snapshot(i: int) -> bool:
    return i > 0 and (i % SNAPSHOT_EVERY == 0 or (i < EARLY_UNTIL and i % BACKUP_EVERY == 0))


def digest(path: str | Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def digest_bytes(data: bytes) -> str:
    """`digest` of bytes already in memory (a backup broadcast by rank 0)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def save_state(path: str | Path, state: dict[str, Any]) -> Path:
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)


def load_state(path: str | Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none; raises on a file `torch.load(weights_only=True)`
    refuses (a pickle carrying code, a torn file)."""
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def write_checkpoint(backup_dir: str | Path, name: str, write_weights: Callable[[Path], Any],
                     state: dict[str, Any]) -> Path:
    """NAME.backup and NAME.backup.state as one unit (see the module doc); OSError on failure,
    leaving the previous pair untouched."""
    wpath, spath = backup_path(backup_dir, name), state_path(backup_dir, name)
    wtmp = wpath.with_name(f".{wpath.name}.pending.tmp")
    stmp = spath.with_name(f".{spath.name}.pending.tmp")
    try:
        write_weights(wtmp)
        save_state(stmp, dict(state, weights_digest=digest(wtmp)))
        os.replace(wtmp, wpath)
        os.replace(stmp, spath)
    finally:
        for p in (wtmp, stmp):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
    return wpath


def matching_state(backup_dir: str | Path, name: str, seen: int) -> tuple[dict[str, Any] | None, str]:
    """The state saved with NAME.backup, or (None, why not)."""
    spath = state_path(backup_dir, name)
    if not spath.exists():
        return None, f"{spath} missing: momentum restarts from zero"
    try:
        state = load_state(spath)
    except Exception:  # torn, foreign or corrupt: never used
        state = None
    if not isinstance(state, dict):
        return None, f"{spath} cannot be read: ignoring it (momentum restarts from zero)"
    want = state.get("weights_digest")
    if want is not None and want != digest(backup_path(backup_dir, name)):
        return None, (f"{spath} was saved with other weights than {backup_path(backup_dir, name)}: ignoring it "
                      f"(momentum restarts from zero)")
    if int(state.get("seen", -1)) != int(seen):
        return None, (f"{spath} is from seen={state.get('seen')}, the backup from seen={seen}: ignoring it "
                      f"(momentum restarts from zero)")
    return state, ""


def prepare_folder(backup_dir: str | Path) -> Path:
    """Make the backup folder and prove it takes files, before any batch is trained."""
    folder = Path(backup_dir)
    try:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"backup folder {folder} is a file, not a folder")
        probe_folder(folder)
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"backup folder {folder} is not writable: {exc.strerror or exc}") from None
    return folder


def remove_stale_temporaries(backup_dir: str | Path, name: str) -> list[Path]:
    """Temporaries (`.NAME….tmp`, `.chart.png….tmp`) that a killed run left in the folder."""
    folder = Path(backup_dir)
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        n = p.name
        mine = (f".{name}.backup", f"..{name}.backup", f".{name}_", ".chart.png.", f".chart_{name}.png.",
                ".darkpy-write-test.")
        if (n.endswith(".tmp") and n.startswith(mine) or n == "chart.png.tmp.png") and p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


LOCK_NAME = ".darkpy-train.lock"


class FolderLock:
    """One training per backup folder: two runs writing `NAME_final.weights` into the same
    folder would silently replace each other's work. The lock is `fcntl.flock` on a file inside
    the folder, held for the run; the kernel drops it when the process dies, so a killed run
    never blocks the next one. The file names the holder (pid, host, start time) for the
    message the second run prints."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> "FolderLock":
        import datetime
        import fcntl
        import socket

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            finally:
                os.close(fd)
            raise UsageError(f"backup folder {self.folder} is in use by a training run ({holder}); "
                             f"one training per backup folder: wait for it, or give another --backup")
        except OSError:
            os.close(fd)
            raise
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        text = f"pid {os.getpid()} on {socket.gethostname()}, started {started}".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None
