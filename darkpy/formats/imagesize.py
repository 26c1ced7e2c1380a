"""Image width and height from the file header, without decoding pixels.

Checking 20,000 images by decoding each one costs minutes; reading the JPEG frame header, the PNG
IHDR chunk or the BMP info header costs a few kilobytes of I/O. Formats not handled here fall
back to a full OpenCV decode.
"""
from __future__ import annotations

import io
import os
import stat
import struct
from pathlib import Path
from darkpy.errors import DataError
from darkpy.fileio import not_a_file
from darkpy.formats.image import read_bgr

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class ImageUnreadable(Exception):
    """The file is not an image OpenCV could open."""


def _jpeg(fh) -> tuple[int, int]:
    fh.seek(2)
    while True:
        byte = fh.read(1)
        if not byte:
            raise ImageUnreadable("JPEG ends before its frame header")
        if byte != b"\xff":
            continue
        marker = fh.read(1)
        while marker == b"\xff":
            marker = fh.read(1)
        if not marker:
            raise ImageUnreadable("JPEG ends before its frame header")
        code = marker[0]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue
        if code in (0xD9, 0xDA):
            raise ImageUnreadable("JPEG has no frame header")
        head = fh.read(2)
        if len(head) < 2:
            raise ImageUnreadable("JPEG ends inside a header")
        length = struct.unpack(">H", head)[0]
        if length < 2:
            raise ImageUnreadable("JPEG header with a bad length")
        if code in _SOF:
            body = fh.read(5)
            if len(body) < 5:
                raise ImageUnreadable("JPEG ends inside its frame header")
            height, width = struct.unpack(">HH", body[1:5])
            return width, height
        fh.seek(length - 2, 1)


def header_size(fh, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of an open image (`head`: its first 32 bytes, `fh` is
    positioned anywhere); None for a format not read here. Raises ImageUnreadable."""
    if head[:3] == b"\xff\xd8\xff":
        width, height = _jpeg(fh)
    elif head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
    elif head[:2] == b"BM" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        height = abs(height)
    elif not head:
        raise ImageUnreadable("empty file")
    else:
        return None
    if width <= 0 or height <= 0:
        raise ImageUnreadable(f"header says {width}x{height}")
    return width, height


def bytes_size(data: bytes) -> tuple[int, int] | None:
    """`header_size` of an image in memory (an upload), before anything decodes it."""
    return header_size(io.BytesIO(data), bytes(data[:32]))


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_FIRST_READ = 1 << 16   # bytes read at once: the frame header of nearly every JPEG is in them


def _header_of_file(path: str | Path) -> tuple[int, int] | None:
    """`header_size` of a file with one open, one fstat and (nearly always) one read: the header
    is parsed from the first 64 KiB in memory, and only a parse that runs off their end is done
    again on the file itself (the same bytes read the same way give the same answer). Opened
    without blocking, so a FIFO is refused by its kind instead of waited on."""
    fd = os.open(path, _OPEN_FLAGS)   # FileNotFoundError, PermissionError...: the caller's to report
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageUnreadable(not_a_file(path) or "not a regular file")
        data = os.read(fd, _FIRST_READ)
        try:
            return header_size(io.BytesIO(data), data[:32])
        except ImageUnreadable:
            if len(data) >= st.st_size:
                raise
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return header_size(fh, fh.read(32))
    finally:
        os.close(fd)


def image_size(path: str | Path, decode: bool = False) -> tuple[int, int]:
    """(width, height) of an image; raises ImageUnreadable (or OSError if it cannot be opened).

    With `decode`, the whole image is decoded by `darkpy.formats.image.read_bgr` (the reader of
    every command), which also catches truncated data.
    """
    if not decode:
        size = _header_of_file(path)
        return size if size is not None else image_size(path, decode=True)

    if not Path(path).exists():
        raise FileNotFoundError(path)
    try:
        img = read_bgr(path)
    except DataError as exc:
        raise ImageUnreadable(exc.message) from None
    return int(img.shape[1]), int(img.shape[0])
