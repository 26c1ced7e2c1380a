"""An uploaded image, from request body to pixels, with every refusal a client can be given: a
body over the size limit (413), a picture whose header promises more pixels than the limit (413,
before decoding allocates them), an empty body, a form without a file, bytes OpenCV cannot decode
completely (400, with the reader's own one-line reason)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from aiohttp import web

from darkpy.errors import DataError
from darkpy.formats.image import decode_bgr
from darkpy.formats.imagesize import ImageUnreadable, bytes_size

CHUNK = 1 << 16


class Refused(Exception):
    """A request refused with an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _too_large(limit: int) -> Refused:
    return Refused(413, f"body larger than the {limit / (1 << 20):g} MiB limit (--max-body-mb)")


async def _read_limited(read_chunk, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        chunk = await read_chunk(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def read_upload(request: web.Request, limit: int) -> tuple[bytes, Optional[str]]:
    """(the image's bytes, its file name when a form gave one). A body is either the image itself
    (image/jpeg, image/png, application/octet-stream...) or a multipart form whose first file
    part (or a part named image/file) is the image."""
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if getattr(part, "filename", None) or getattr(part, "name", None) in ("image", "file"):
                    data = await _read_limited(part.read_chunk, limit)
                    return data, part.filename
                await part.release()
        except (ValueError, AssertionError, RuntimeError) as exc:
            raise Refused(400, f"malformed multipart form: {str(exc).splitlines()[0] if str(exc) else exc!r}")
        raise Refused(400, "the form has no file part (send the image as a file field named 'image')")
    return await _read_limited(request.content.read, limit), None


def decode_upload(data: bytes, max_pixels: int) -> np.ndarray:
    """The upload's BGR pixels, as `darkpy detect` decodes a file (`decode_bgr`)."""
    if not data:
        raise Refused(400, "empty body: send an image (JPEG, PNG, BMP...)")
    try:
        size = bytes_size(data)
    except ImageUnreadable as exc:
        raise Refused(400, f"not a decodable image: {exc}") from None
    if size is not None and size[0] * size[1] > max_pixels:
        raise Refused(413, f"image of {size[0]}x{size[1]} pixels is over the limit of {max_pixels} pixels")
    import cv2

    try:
        bgr = decode_bgr(data)
    except DataError as exc:
        raise Refused(400, f"not a decodable image: {exc.message}") from None
    except cv2.error as exc:  # OpenCV refusing a header it cannot handle (a format not checked above)
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
        raise Refused(400, f"not a decodable image: {reason}") from None
    if bgr.shape[0] * bgr.shape[1] > max_pixels:
        raise Refused(413, f"image of {bgr.shape[1]}x{bgr.shape[0]} pixels is over the limit of {max_pixels} "
                           "pixels")
    return bgr
