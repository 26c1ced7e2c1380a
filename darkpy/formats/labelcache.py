"""A cache of parsed label files, so a data set read again costs one `stat` per file, not a read
and a parse.

One cache file per (list or folder, working directory, class bounds): the parsed rows of every
file that parsed cleanly, with the size and `mtime_ns` each file had when it was read. A later
read takes a file's rows from the cache only when its size and mtime_ns are unchanged; every other
file (changed, gone, new, or one the cache does not hold: missing, not a regular file, a line with
a problem, a label found away from Darknet's first candidate) is read again by the uncached
reader, so messages and results are exactly the uncached path's. A file modified moments before
it was read (50 ms; three ticks on a file system with whole-second times) is not taken into the
cache: a second write in the same clock tick would leave its mtime as it was.

Cache files live in a cache folder (`$XDG_CACHE_HOME/darkpy/labels`, else
`~/.cache/darkpy/labels`; `DARKPY_CACHE_DIR` names another), never beside the data. They are
one plain `.npy` array each, loaded with `allow_pickle=False`, written to a temporary file and renamed;
one that cannot be read or does not add up is ignored and rebuilt. The folder keeps the 64 most
recently written.
"""
from __future__ import annotations

import os
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

FORMAT = 1
KEEP = 64                    # cache files kept in the folder (the most recently written)
RACY_NS = 50_000_000         # a file written this recently (fine timestamps) is read again next time


def default_folder() -> Path:
    """`DARKPY_CACHE_DIR`, else `$XDG_CACHE_HOME/darkpy/labels`, else `~/.cache/darkpy/labels`."""
    named = os.environ.get("DARKPY_CACHE_DIR")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "darkpy" / "labels"


@dataclass
class Stored:
    """What a cache file holds. Per file: `paths`, `size`, `mtime` (-1 when not stat-ed) and
    `clean` (its rows are here); rows of the clean files, in file order, with per-file counts."""

    paths: list[str]
    size: np.ndarray
    mtime: np.ndarray
    clean: np.ndarray
    boxes: np.ndarray
    box_lines: np.ndarray
    box_counts: np.ndarray
    class_only: np.ndarray
    only_counts: np.ndarray


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    key: bytes


@dataclass(frozen=True)
class LabelCache:
    """A folder of label caches (`LabelCache()` is the user's default folder)."""

    folder: Path = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.folder is None:
            object.__setattr__(self, "folder", default_folder())

    def entry(self, kind: str, names: Sequence[str], *extra: object) -> CacheEntry:
        """The cache file of one read: `names` (list entries or label paths), in order, the
        working directory (relative names are read from it) and the bounds that change parsing.
        The whole key is stored in the file and compared on loading; the file name is a checksum
        of it, so a clash only costs a rebuild."""
        head = "\0".join([f"darkpy-labels-{FORMAT}", kind, os.getcwd(), *map(repr, extra)])
        key = os.fsencode(head + "\0\0" + "\0".join(names))
        name = f"{kind}-{zlib.crc32(key):08x}-{zlib.adler32(key):08x}-{len(names)}.npy"
        return CacheEntry(self.folder / name, key)

    def load(self, entry: CacheEntry, n: int) -> Stored | None:
        """The stored read of `n` files, or None (no file, or one that cannot be read, is for
        another key or does not add up: it is rebuilt)."""
        try:
            blob = np.load(entry.path, allow_pickle=False)
            parts = _split(blob)
        except Exception:  # noqa: BLE001 - any unreadable cache is a miss, never an error
            return None
        if parts is None:
            return None
        meta, key, names, size, mtime, clean, boxes, lines, box_counts, only, only_counts = parts
        if len(meta) != 2 or int(meta[0]) != FORMAT or int(meta[1]) != n or key.tobytes() != entry.key:
            return None
        if len(boxes) % 5 or len(only) % 3 or not (len(size) == len(mtime) == len(clean) == len(box_counts)
                                                   == len(only_counts) == n) or len(lines) != len(boxes) // 5:
            return None
        s = Stored([], size, mtime, clean.view(bool), boxes.reshape(-1, 5), lines, box_counts,
                   only.reshape(-1, 3), only_counts)
        if not (clean <= 1).all():
            return None
        counts_ok = (s.box_counts.min(initial=0) >= 0 and s.only_counts.min(initial=0) >= 0
                     and int(s.box_counts.sum()) == len(s.boxes)
                     and int(s.only_counts.sum()) == len(s.class_only)
                     and not (s.box_counts[~s.clean].any() or s.only_counts[~s.clean].any()))
        if not counts_ok:
            return None
        paths = os.fsdecode(names.tobytes()).split("\0") if n else []
        if len(paths) != n:
            return None
        s.paths = paths
        return s

    def save(self, entry: CacheEntry, stored: Stored) -> None:
        """Write atomically (temporary file, rename); a folder that cannot be written means no
        cache, not an error."""
        parts = [np.array([FORMAT, len(stored.paths)], np.int64), np.frombuffer(entry.key, np.uint8),
                 np.frombuffer(os.fsencode("\0".join(stored.paths)), np.uint8),
                 stored.size.astype(np.int64), stored.mtime.astype(np.int64),
                 stored.clean.astype(np.uint8), stored.boxes.astype(np.float32).ravel(),
                 stored.box_lines.astype(np.int32), stored.box_counts.astype(np.int64),
                 stored.class_only.astype(np.float32).ravel(), stored.only_counts.astype(np.int64)]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, _join(parts), allow_pickle=False)
                os.replace(tmp, entry.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return
        self._prune()

    def _prune(self) -> None:
        try:
            entries = [e for e in os.scandir(self.folder) if e.name.endswith(".npy")
                       and not e.name.startswith(".")]
            if len(entries) <= KEEP:
                return
            entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
            for e in entries[KEEP:]:
                os.unlink(e.path)
        except OSError:
            return


# One cache file is one .npy array of bytes: the part count, each part's length in bytes, then
# the parts (meta, key, paths, size, mtime, clean, boxes, box_lines, box_counts, class_only,
# only_counts), each padded to 8 bytes so that its numbers are aligned.
_DTYPES = (np.int64, np.uint8, np.uint8, np.int64, np.int64, np.uint8, np.float32, np.int32, np.int64,
           np.float32, np.int64)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    raw = [np.ascontiguousarray(p).view(np.uint8).ravel() for p in parts]
    head = np.array([len(raw), *(len(r) for r in raw)], np.int64).view(np.uint8)
    out = [head]
    for r in raw:
        out.append(r)
        out.append(np.zeros(-len(r) % 8, np.uint8))
    return np.concatenate(out)


def _split(blob: np.ndarray) -> list[np.ndarray] | None:
    if blob.dtype != np.uint8 or blob.ndim != 1 or len(blob) < 8:
        return None
    count = int(blob[:8].view(np.int64)[0])
    if count != len(_DTYPES) or len(blob) < 8 * (count + 1):
        return None
    lengths = blob[8:8 * (count + 1)].view(np.int64)
    pos = 8 * (count + 1)
    out = []
    for length, dtype in zip(lengths.tolist(), _DTYPES):
        size = np.dtype(dtype).itemsize
        if length < 0 or length % size or pos + length > len(blob):
            return None
        out.append(blob[pos:pos + length].view(dtype))
        pos += length + (-length % 8)
    return out if pos == len(blob) else None


def stat_all(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(size, mtime_ns) of each path (following links, as reading does); -1 where it fails."""
    n = len(paths)
    size = np.full(n, -1, np.int64)
    mtime = np.full(n, -1, np.int64)
    st = os.stat
    sizes: list[int] = []
    mtimes: list[int] = []
    for p in paths:
        try:
            s = st(p)
        except (OSError, ValueError):
            sizes.append(-1)
            mtimes.append(-1)
            continue
        sizes.append(s.st_size)
        mtimes.append(s.st_mtime_ns)
    if n:
        size[:] = sizes
        mtime[:] = mtimes
    return size, mtime


def racy(mtime: np.ndarray) -> np.ndarray:
    """Files modified too recently for their mtime to tell a later change apart: a second write
    within the same tick of the file system's clock leaves mtime (and maybe size) as they were.
    The tick is judged from the timestamp itself: one in whole seconds (or 10 or 100 ms) comes
    from a coarse file system and gets three ticks; a finer one gets RACY_NS (several kernel
    clock ticks)."""
    mtime = np.asarray(mtime, np.int64)
    window = np.full(mtime.shape, RACY_NS, np.int64)
    for tick in (10**7, 10**8, 10**9):
        window[mtime % tick == 0] = max(RACY_NS, 3 * tick)
    return mtime > time.time_ns() - window
