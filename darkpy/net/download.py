"""Fetching a published `.weights` file: resumable, checked against its cfg before it is kept.

The bytes go to `FILE.part`; an interrupted download leaves it there and the next call asks the
server for the rest (HTTP Range). Only a file whose header and size fit the cfg is renamed to
its final name, so a half file or an HTML error page never passes for weights.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import IncompleteRead
from pathlib import Path
from typing import Callable, Optional

from darkpy.errors import DataError, WeightsError
from darkpy.net.published import Published, base_url
from darkpy.net.weights import WeightsHeader

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
    size = path.stat().st_size
    with open(path, "rb") as fh:
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


def download(entry: Published, dest_dir: Path, *, url: Optional[str] = None,
             progress: Optional[bool] = None, log: Callable[[str], None] = print) -> Downloaded:
    """Download `entry` into `dest_dir` (resuming a `.part` file), check it, rename it into place."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / entry.file
    if final.exists():
        try:
            return Downloaded(final, check_file(final, entry), 0, already=True)
        except WeightsError as exc:
            raise WeightsError(f"{exc.message}; remove it to download again",
                               file=final) from None
    part = dest_dir / (entry.file + ".part")
    source = url or base_url() + entry.url_path
    have = part.stat().st_size if part.exists() else 0
    start = have
    request = urllib.request.Request(source, headers={"User-Agent": "darkpy"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the .part is complete (or too long)
            return _finish(part, final, entry, have, start)
        raise DataError(f"{source}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"{source}: cannot connect ({reason})") from None
    with response:
        status = getattr(response, "status", 200)
        if have and status != 206:  # the server ignored the range: start over
            log(f"{source}: the server does not resume; downloading from the start")
            have = start = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        from tqdm import tqdm

        show = sys.stderr.isatty() if progress is None else progress
        with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=entry.file, disable=not show,
                                          file=sys.stderr) as bar:
            try:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    have += len(chunk)
                    bar.update(len(chunk))
            except (IncompleteRead, OSError) as exc:
                partial = getattr(exc, "partial", b"")
                if partial:
                    fh.write(partial)
                    have += len(partial)
                fh.flush()
                raise DataError(f"{source}: connection lost after {have} bytes"
                                + (f" of {total}" if total else "")
                                + f"; run the same command again to resume from {part}") from None
    if total is not None and have < total:
        raise DataError(f"{source}: connection lost after {have} of {total} bytes; run the same command "
                        f"again to resume from {part}")
    return _finish(part, final, entry, have, start)


def _finish(part: Path, final: Path, entry: Published, size: int, start: int) -> Downloaded:
    try:
        check_file(part, entry)
    except WeightsError as exc:
        # the server sent all it has: resuming cannot fix it, so do not keep it around
        part.unlink()
        raise WeightsError(f"downloaded {size} bytes that do not fit {entry.cfg}: {exc.message} "
                           f"(removed; check the URL)", file=final) from None
    os.replace(part, final)
    return Downloaded(final, final.stat().st_size, start)
