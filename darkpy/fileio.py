"""Writing files so that nothing is lost: a temporary file beside the target, then a rename."""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from darkpy.errors import DataError, UsageError


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


# -- paths built from file contents ------------------------------------------------------------

def inside(folder: str | Path, name: str, *, what: str, file: str | Path | None = None,
           line: int | None = None, subfolders: bool = False) -> Path:
    """`folder / name` for a `name` taken from a file (a class name, an image id, a COCO
    `file_name`), refused unless it stays inside `folder`: a names line `../../tmp/x` must not
    make `valid` write anywhere on the disk. Refused: empty names, NUL and other control
    characters, absolute paths, `..` components, backslashes, and (unless `subfolders`) any
    separator at all; then, as a last guard, the resolved path must lie under the resolved folder.
    The error names the entry and the file (and line) it came from."""
    def refuse(why: str) -> DataError:
        return DataError(f"{what} {name!r} {why}; refusing to write outside {folder}", file=file, line=line)

    text = str(name)
    if not text or text in (".", ".."):
        raise refuse("is not a file name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise refuse("holds a control character")
    if "\\" in text:
        raise refuse("holds a backslash")
    if text.startswith("/"):
        raise refuse("is an absolute path")
    parts = text.split("/")
    if ".." in parts:
        raise refuse("climbs out of its folder with '..'")
    if not subfolders and len(parts) > 1:
        raise refuse("holds a path separator")
    if any(p == "" for p in parts):
        raise refuse("has an empty path component")
    base = Path(folder)
    target = base / text
    real_base = os.path.realpath(base)
    real = os.path.realpath(target)
    if os.path.commonpath([real_base, real]) != real_base:
        raise refuse("leads outside the folder through a link")
    return target


# -- reading only regular files ------------------------------------------------------------------

def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, what: str, error=None, mode: str = "rb", *, os_errors: bool = False, **kwargs):
    """Open a file to read, refusing at once anything but a regular file (a FIFO given as
    `--weights` would block forever, a device would never end, a folder gives EISDIR later).
    The open does not block (O_NONBLOCK) and the check is on the opened descriptor, so there is
    no window between the check and the read. `error` is the DarkpyError class to raise;
    `os_errors`: let an OSError of the open itself through (a caller that treats "missing" apart)."""
    if error is None:
        error = DataError
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os_errors:
            raise
        raise error(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} is {_kind(st.st_mode)}, not a regular file", file=path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: str | Path, what: str, error=None) -> Path:
    """Refuse `path` at once unless it is a regular file (see `open_regular`); for readers that
    take a path (OpenCV, numpy's memmap)."""
    with open_regular(path, what, error):
        pass
    return Path(path)


def not_a_file(path: str | Path) -> str | None:
    """Why `path` cannot be read as a file ("not found", "a named pipe (FIFO)", ...), None if it can."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return "not found"
    return None if stat.S_ISREG(st.st_mode) else f"{_kind(st.st_mode)}, not a regular file"
