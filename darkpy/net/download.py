"""Fetching a published `.weights` file: resumable, checked against its cfg before it is kept.

The bytes go to `FILE.part` (created exclusively, never through a link; an existing one is
resumed only if it is a regular file); an interrupted download leaves it there and the next call
asks the server for the rest (HTTP Range). The body is capped at the size the cfg allows while
it streams. Only a file whose header, size, floats (all finite) and SHA-256 (when one is known or
given) fit is renamed to its final name, so a half file, an HTML error page or a huge answer
never passes for weights.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import IncompleteRead
from pathlib import Path
from typing import Callable, Optional

from darkpy.errors import DataError, WeightsError
from darkpy.fileio import open_regular
from darkpy.net.published import Published, base_url
import numpy as np

from darkpy.net.weights import WeightsHeader, read_weights_file

CHUNK = 1 << 20


@dataclass
class Downloaded:
    path: Path
    size: int
    resumed_from: int      # bytes already in the .part file when this call started
    already: bool = False  # the final file was there and passed the check


def expected_size(entry: Published, header_bytes: int) -> int:
    return header_bytes + 4 * entry.floats()


def check_file(path: Path, entry: Published) -> int:
    """Raise WeightsError unless `path` has a sane header and exactly the cfg's floats after it."""
    with open_regular(path, "weights", WeightsError) as fh:
        size = os.fstat(fh.fileno()).st_size
        head = WeightsHeader.unpack(fh.read(20), path)
    if head.major < 0 or head.minor < 0 or head.major > 1000 or head.minor > 1000:
        raise WeightsError(f"header {head.major}.{head.minor}.{head.revision} is not a Darknet weights "
                           f"header (an error page?)", file=path)
    want = expected_size(entry, head.nbytes)
    if size != want:
        what = f"layers 0..{entry.upto - 1} of " if entry.upto else ""
        raise WeightsError(f"{size} bytes, but {what}{entry.cfg} needs {want} ({head.nbytes}-byte header + "
                           f"{(want - head.nbytes) // 4} floats)", file=path)
    return size


def _open_part(part: Path, resume: bool) -> tuple[int, int]:
    """(fd, bytes already there) of the `.part` file, opened without following links: an existing
    one only if it is a regular file (a planted `NAME.part -> ~/.bashrc` link is refused, its
    target untouched); a new one created exclusively (O_EXCL), so nothing else can be in its place."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    flags = os.O_WRONLY | nofollow | getattr(os, "O_CLOEXEC", 0)
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise WeightsError("is not a regular file (a link, a folder...): darkpy did not leave it there; "
                           "remove it to download again", file=part)
    try:
        if st is not None and resume:
            fd = os.open(part, flags | os.O_APPEND)
            opened = os.fstat(fd)
            if opened.st_nlink > 1 or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                os.close(fd)  # a hard link to another file, or swapped since the lstat: not ours
                raise WeightsError("has other names (a hard link) or changed while opening: darkpy did not leave "
                                   "it there; remove it to download again", file=part)
            return fd, opened.st_size
        if st is not None:
            os.unlink(part)
        return os.open(part, flags | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644), 0
    except OSError as exc:
        raise WeightsError(f"cannot open the download file: {exc.strerror or exc}", file=part) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(entry: Published, dest_dir: Path, *, url: Optional[str] = None,
             progress: Optional[bool] = None, log: Callable[[str], None] = print,
             sha256: Optional[str] = None) -> Downloaded:
    """Download `entry` into `dest_dir` (resuming a `.part` file), check it, rename it into place.

    The body is capped at the largest size the cfg allows (a 200 MB answer for a 4 MB file stops
    at 4 MB); before the rename the header, the size, the finiteness of every float and the
    SHA-256 (`sha256`, else the catalogue's digest when it has one) are checked."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    want_digest = (sha256 or entry.sha256 or "").lower() or None
    final = dest_dir / entry.file
    if final.exists():
        try:
            size = check_file(final, entry)
            _check_content(final, entry, want_digest)
            return Downloaded(final, size, 0, already=True)
        except WeightsError as exc:
            raise WeightsError(f"{exc.message}; remove it to download again",
                               file=final) from None
    part = dest_dir / (entry.file + ".part")
    source = url or base_url() + entry.url_path
    cap = expected_size(entry, 20)  # a 16- or a 20-byte header: never more than this
    fd, have = _open_part(part, resume=True)
    with os.fdopen(fd, "ab") as fh:
        start = have
        request = urllib.request.Request(source, headers={"User-Agent": "darkpy"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the .part is complete (or too long)
                fh.close()
                return _finish(part, final, entry, have, start, want_digest)
            raise DataError(f"{source}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataError(f"{source}: cannot connect ({reason})") from None
        with response:
            status = getattr(response, "status", 200)
            if have and status != 206:  # the server ignored the range: start over
                log(f"{source}: the server does not resume; downloading from the start")
                fh.truncate(0)
                have = start = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None and length.isdigit() else None
            if total is not None and total > cap:
                fh.close()
                _discard(part)
                raise WeightsError(f"the server announces {total} bytes, which do not fit {entry.cfg}: it needs "
                                   f"{cap} bytes at most (nothing kept; check the URL)", file=final)
            from tqdm import tqdm

            show = sys.stderr.isatty() if progress is None else progress
            with tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=entry.file, disable=not show, file=sys.stderr) as bar:
                try:
                    while True:
                        chunk = response.read(min(CHUNK, cap + 1 - have))
                        if not chunk:
                            break
                        if have + len(chunk) > cap:
                            fh.close()
                            _discard(part)
                            raise WeightsError(
                                f"downloaded {have + len(chunk)} bytes that do not fit {entry.cfg}: the server "
                                f"sends more, and the cfg needs {cap} bytes at most (stopped and removed; "
                                f"check the URL)", file=final)
                        fh.write(chunk)
                        have += len(chunk)
                        bar.update(len(chunk))
                except (IncompleteRead, OSError) as exc:
                    partial = getattr(exc, "partial", b"")
                    if partial and have + len(partial) <= cap:
                        fh.write(partial)
                        have += len(partial)
                    fh.flush()
                    raise DataError(f"{source}: connection lost after {have} bytes"
                                    + (f" of {total}" if total else "")
                                    + f"; run the same command again to resume from {part}") from None
        fh.flush()
        os.fsync(fh.fileno())
    if total is not None and have < total:
        raise DataError(f"{source}: connection lost after {have} of {total} bytes; run the same command "
                        f"again to resume from {part}")
    return _finish(part, final, entry, have, start, want_digest)


def _discard(part: Path) -> None:
    try:
        os.unlink(part)
    except FileNotFoundError:
        pass


def _check_content(path: Path, entry: Published, digest: Optional[str]) -> None:
    """Every float finite (an all-NaN body of the right size is not weights), and the digest."""
    _, _, floats = read_weights_file(path, mmap=True)
    if floats.size and not np.isfinite(floats.sum(dtype=np.float64)):
        bad = int(floats.size - np.count_nonzero(np.isfinite(floats)))
        raise WeightsError(f"{bad} of its {floats.size} floats are NaN or infinite: not usable weights", file=path)
    if digest is not None:
        got = _sha256(path)
        if got != digest:
            raise WeightsError(f"SHA-256 {got} differs from the expected {digest}", file=path)


def _finish(part: Path, final: Path, entry: Published, size: int, start: int,
            digest: Optional[str] = None) -> Downloaded:
    try:
        check_file(part, entry)
        _check_content(part, entry, digest)
    except WeightsError as exc:
        # the server sent all it has: resuming cannot fix it, so do not keep it around
        _discard(part)
        raise WeightsError(f"downloaded {size} bytes that do not fit {entry.cfg}: {exc.message} "
                           f"(removed; check the URL)", file=final) from None
    os.replace(part, final)
    return Downloaded(final, final.stat().st_size, start)
