"""Writing files so that nothing is lost: a temporary file beside the target, then a rename."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from darkpy.errors import UsageError


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator:
    """Open a temporary file next to `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the user's umask
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


@contextmanager
def staged_directory(final: str | Path) -> Iterator[Path]:
    """Build a whole output folder in a temporary sibling and move it into place at the end.

    If `final` exists, its contents are merged: files the staged tree holds replace theirs.
    On failure nothing of the staged tree is left behind.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder keeps it when moved into place
    try:
        yield stage
        if not final.exists():
            os.replace(stage, final)
            return
        for src in sorted(stage.rglob("*")):
            dst = final / src.relative_to(stage)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def refuse_overwrite(outputs, inputs, *, flag: str = "--out") -> None:
    """An output that would replace one of the command's inputs is a usage error, before anything
    is written (`detect --source v.mp4 --out v.mp4` must not destroy the video)."""
    if outputs is None:
        return
    ins = [Path(p) for p in inputs if p is not None and not isinstance(p, int) and str(p) not in ("", "-")]
    if not ins:
        return
    outs = [outputs] if isinstance(outputs, (str, Path)) else list(outputs)
    by_abs = {os.path.abspath(p): p for p in ins}
    by_id = {}
    for p in ins:
        try:
            st = p.stat()
            by_id[(st.st_dev, st.st_ino)] = p
        except OSError:
            pass
    for out in outs:
        if out is None:
            continue
        out = Path(out)
        hit = by_abs.get(os.path.abspath(out))
        if hit is None and by_id:
            try:
                st = out.stat()
                hit = by_id.get((st.st_dev, st.st_ino))
            except OSError:
                pass
        if hit is not None:
            raise UsageError(f"{flag} {out} is also an input ({hit}): refusing to overwrite it; "
                             f"choose another output path")


def probe_folder(folder: str | Path) -> Path:
    """Make `folder` if needed and write and remove a file in it; OSError when it takes no files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".darkpy-write-test.", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(probe)
    return folder


def check_output_file(path: str | Path, *, flag: str = "--out") -> Path:
    """The folder an output file goes into exists (or can be made) and takes files; the path is
    not a folder. Checked before the work starts, so an hour of video is not processed for nothing."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    try:
        probe_folder(parent)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write in {parent}: {exc.strerror or exc}") from None
    return path
