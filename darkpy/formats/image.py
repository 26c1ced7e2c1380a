"""Images as Darknet sees them: RGB, float32 in [0, 1], laid out (C, H, W).

`resize_image` reproduces Darknet's own two-pass bilinear resize (src/image.c), which is not
OpenCV's: sample positions are `i * (in - 1) / (out - 1)` (corners aligned), the horizontal pass
runs first, and the vertical pass never reads the row below the last output row. Its float32
arithmetic is reproduced too, so the last row can come out darker than the source when
`(h - 1) * scale` rounds just below the last source row, exactly as in Darknet.

`letterbox_image` keeps the aspect ratio (integer arithmetic as Darknet), resizes with
`resize_image`, and centres the result on a canvas filled with 0.5.

The functions here are vectorised with numpy; tests/formats/image_reference.py holds the
straight loops the tests compare them with.
"""
from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from darkpy.errors import DataError
from darkpy.fileio import open_regular

_TO_FLOAT = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)  # Darknet: pixel / 255.

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")


def from_bgr(bgr: np.ndarray) -> np.ndarray:
    """An OpenCV uint8 image (H, W, 3 BGR, or H, W gray) as Darknet's (3, H, W) RGB float32."""
    if bgr.ndim == 2:
        bgr = np.repeat(bgr[:, :, None], 3, axis=2)
    if bgr.dtype != np.uint8:
        raise DataError(f"unsupported image dtype {bgr.dtype}")
    rgb = bgr[:, :, 2::-1] if bgr.shape[2] >= 3 else np.repeat(bgr[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(_TO_FLOAT[rgb].transpose(2, 0, 1))


_QUIET = False


def quiet_opencv() -> None:
    """Silence OpenCV's own `[ WARN ]` lines: darkpy prints one line of its own for a bad image."""
    global _QUIET
    if _QUIET:
        return
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # pragma: no cover - builds without the logging module
        cv2.setLogLevel(0)
    _QUIET = True


def _why_undecodable(data: np.ndarray) -> str:
    head = data[:3].tobytes()
    if head == b"\xff\xd8\xff":
        tail = data[-4096:].tobytes()
        if b"\xff\xd9" not in tail:
            return "truncated JPEG (no end-of-image marker)"
        return "corrupt JPEG data"
    if data[:8].tobytes() == b"\x89PNG\r\n\x1a\n":
        return "truncated or corrupt PNG"
    return "cannot decode image (not an image, or a format OpenCV cannot read)"


_STDERR_LOCK = threading.Lock()
# libjpeg's warnings that mean pixels are missing or wrong ("premature end of data segment",
# "bad Huffman code": the rest of the picture is grey or garbage) refuse the image; "N extraneous
# bytes before marker", common in real data sets and harmless, does not.


def _damaged(line: bytes) -> bool:
    return line.startswith(b"Premature end") or (line.startswith(b"Corrupt JPEG data")
                                                 and b"extraneous bytes" not in line)


_CAPTURE: dict[int, object] = {}   # pid -> the temporary file this process captures into


@contextmanager
def _c_stderr() -> Iterator[list[bytes]]:
    """Collect what C code writes to file descriptor 2 meanwhile (libjpeg prints its warnings
    there, past OpenCV's logging). Output of other threads that lands there in the meantime is
    written back to stderr afterwards, so nothing else is lost."""
    lines: list[bytes] = []
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (AttributeError, ValueError, OSError):  # pragma: no cover - no usable fd 2
            yield lines
            return
        tmp = _CAPTURE.get(os.getpid())
        if tmp is None:
            tmp = _CAPTURE[os.getpid()] = tempfile.TemporaryFile()
            atexit.register(tmp.close)
        fd = tmp.fileno()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.dup2(fd, 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            size = os.lseek(fd, 0, os.SEEK_END)
            if size:
                os.lseek(fd, 0, os.SEEK_SET)
                other = []
                for line in os.read(fd, size).splitlines(keepends=True):
                    (lines if _is_libjpeg(line) else other).append(line)
                if other:
                    os.write(2, b"".join(other))


def _is_libjpeg(line: bytes) -> bool:
    return line.startswith((b"Corrupt JPEG data", b"Premature end of JPEG", b"Invalid JPEG", b"Warning: unknown JFIF",
                            b"Unsupported marker", b"Inconsistent progression"))


def read_bgr(path: str | Path) -> np.ndarray:
    """THE image reader of every command (uint8 BGR, decoded by OpenCV from the file's bytes).

    One decision for damaged files: an image OpenCV cannot decode completely (a truncated JPEG,
    say) is a DataError naming the file, and every command skips it with that one line
    (`detect`, `map`/`valid`/`recall`, training, the classifier; `data check --decode` lists
    it). So is a JPEG whose data libjpeg finds cut short ("premature end of data segment"), which
    OpenCV would decode with grey where the data is missing; libjpeg's harmless warnings (extra
    bytes before a marker) are silenced. `cv2.imread` returns a half-grey picture of a truncated
    JPEG after printing libjpeg's warning, so it is not used anywhere."""
    path = Path(path)
    try:
        with open_regular(path, "image", DataError, os_errors=True) as fh:  # a FIFO must not block
            data = np.fromfile(fh, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError("image not found", file=path) from None
    except (OSError, ValueError) as exc:
        if not path.is_file():
            raise DataError("image not found", file=path) from None
        raise DataError(f"cannot read image: {getattr(exc, 'strerror', None) or exc}", file=path) from None
    if not data.size:
        raise DataError("empty image file", file=path)
    return decode_bgr(data, path)


def decode_bgr(data: bytes | np.ndarray, name: str | Path | None = None) -> np.ndarray:
    """`read_bgr` for bytes already in memory (an upload): the same decoder and the same refusals,
    so a served image gives the numbers its file gives. `name` is what errors call it."""
    import cv2

    quiet_opencv()
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, dtype=np.uint8)
    path = name
    if not data.size:
        raise DataError("empty image", file=path)
    if data[:3].tobytes() != b"\xff\xd8\xff":
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    else:  # a JPEG: libjpeg says on stderr when data is missing, and decodes the rest as grey
        with _c_stderr() as said:
            img = cv2.imdecode(data, cv2.IMREAD_COLOR)
        damage = [line for line in said if _damaged(line)]
        if img is not None and damage:
            raise DataError("truncated or corrupt JPEG data (libjpeg: "
                            f"{damage[0].decode('ascii', 'replace').strip()})", file=path)
    if img is None or not img.size:
        raise DataError(_why_undecodable(data), file=path)
    return img


def read_rgb(path: str | Path) -> np.ndarray:
    """(H, W, 3) RGB float32 in [0, 1] (pixel / 255, as Darknet), from `read_bgr`."""
    return _TO_FLOAT[read_bgr(path)[:, :, ::-1]]


def load_image_color(path: str | Path) -> np.ndarray:
    """Darknet's `load_image_color(path, 0, 0)`: (3, H, W) RGB float32 in [0, 1].

    Darknet decodes with stb_image, darkpy with OpenCV; for PNG/BMP the pixels are identical, for
    JPEG the two decoders may differ by a grey level here and there."""
    return from_bgr(read_bgr(path))


def _scale(src: int, dst: int) -> np.float32:
    # C: (float)(src - 1) / (dst - 1) -- a float32 division (inf when dst == 1; never used then)
    if dst == 1:
        return np.float32(0.0)
    return np.float32(src - 1) / np.float32(dst - 1)


def _positions(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer sample positions, next positions and float32 fractions for one axis."""
    s = np.arange(dst, dtype=np.float32) * _scale(src, dst)
    i = s.astype(np.int64)  # truncation, as (int) in C; s >= 0
    i = np.minimum(i, src - 1)
    d = (s - i.astype(np.float32)).astype(np.float32)
    nxt = np.minimum(i + 1, src - 1)
    return i, nxt, d


def _hpass(im: np.ndarray, w: int) -> np.ndarray:
    """Darknet's horizontal pass on a (C, H, W) float32 image: (C, H, w)."""
    c, ih, iw = im.shape
    if iw == 1:
        return np.repeat(im[:, :, :1], w, axis=2)
    ix, ix1, dx = _positions(iw, w)
    part = (np.float32(1) - dx) * im[:, :, ix] + dx * im[:, :, ix1]
    part[:, :, w - 1] = im[:, :, iw - 1]
    return part


def _vpass(part: np.ndarray, ih: int, h: int, row_of=None) -> np.ndarray:
    """Darknet's vertical pass: (C, ih, w) -> (C, h, w). `row_of` maps a source row to its
    position in `part` when `part` holds only the rows the pass reads."""
    iy, iy1, dy = _positions(ih, h)
    if h == 1:
        iy, dy = np.zeros(1, np.int64), np.zeros(1, np.float32)
    if row_of is not None:
        iy, iy1 = row_of(iy), row_of(iy1)
    out = ((np.float32(1) - dy)[:, None] * part[:, iy, :]).astype(np.float32)
    if ih > 1 and h > 1:
        rows = slice(0, h - 1)  # Darknet skips the second term on the last output row
        out[:, rows] += dy[rows, None] * part[:, iy1[rows], :]
    return out


def resize_image(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `resize_image` on a (C, H, W) float32 image."""
    im = np.asarray(im, dtype=np.float32)
    if w < 1 or h < 1:
        raise ValueError(f"cannot resize to {w}x{h}")
    return _vpass(_hpass(im, w), im.shape[1], h)


def _sorted_unique(v: np.ndarray) -> np.ndarray:
    """`np.unique` for small integer arrays, without the numpy.ma import np.unique costs a process
    (10 ms, a twentieth of a whole small `darkpy recall`)."""
    v = np.sort(v)
    if v.size < 2:
        return v
    return v[np.concatenate(([True], v[1:] != v[:-1]))]


def _gather_columns(sub: np.ndarray):
    """`idx -> _TO_FLOAT[sub[:, idx]]` as float32 (r, len(idx), k), exact. A 3-channel image is
    gathered one pixel per 32-bit word (a BGRA copy: one aligned load per pixel instead of numpy's
    3-byte item copies) and converted by OpenCV's table lookup, together ~3x faster than numpy's
    take + lookup (which first widens the uint8 indices to int64)."""
    if sub.shape[2] != 3:
        return lambda idx: _TO_FLOAT.take(sub.take(idx, axis=1))
    import cv2

    words = cv2.cvtColor(np.ascontiguousarray(sub), cv2.COLOR_BGR2BGRA).view(np.uint32)[..., 0]

    def gather(idx: np.ndarray) -> np.ndarray:
        picked = words.take(idx, axis=1).view(np.uint8).reshape(words.shape[0], len(idx), 4)
        return cv2.LUT(cv2.cvtColor(picked, cv2.COLOR_BGRA2BGR), _TO_FLOAT)

    return gather


def _resize_hwc(bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's resize of a uint8 (H, W, C) image, kept in (h, w, k) layout (k = 3 BGR, or 1 for a
    grey image): only the source rows the vertical pass reads (at most 2·h) and the columns the
    horizontal pass reads (2·w) are gathered, still as uint8, then converted (x/255) and blended
    with Darknet's float32 arithmetic, in place. Staying in the decoder's layout makes every
    gather a contiguous `take` and leaves the channel swap to the final copy."""
    if bgr.ndim == 2:
        bgr = bgr[:, :, None]
    if bgr.dtype != np.uint8:
        raise DataError(f"unsupported image dtype {bgr.dtype}")
    if w < 1 or h < 1:
        raise ValueError(f"cannot resize to {w}x{h}")
    if bgr.shape[2] > 3:
        bgr = bgr[:, :, :3]
    elif bgr.shape[2] == 2:
        bgr = bgr[:, :, :1]
    ih, iw = bgr.shape[:2]
    iy, iy1, dy = _positions(ih, h)
    two_rows = ih > 1 and h > 1   # Darknet skips the second term on the last output row
    if h == 1:
        iy, dy = np.zeros(1, np.int64), np.zeros(1, np.float32)
    rows = _sorted_unique(np.concatenate([iy, iy1[: h - 1]]) if two_rows else iy)
    sub = bgr if len(rows) == ih else bgr.take(rows, axis=0)
    if iw == 1:
        part = np.repeat(_TO_FLOAT.take(sub), w, axis=1)
    else:
        ix, ix1, dx = _positions(iw, w)
        k = sub.shape[2]
        gather = _gather_columns(sub)
        part, nxt = gather(ix), gather(ix1)
        # the weights repeated per channel: the products run over whole rows, not 3-long runs
        flat = (part.shape[0], w * k)
        part.reshape(flat).__imul__(np.repeat(np.float32(1) - dx, k))
        nxt.reshape(flat).__imul__(np.repeat(dx, k))
        part += nxt
        part[:, w - 1] = _TO_FLOAT.take(sub[:, iw - 1])
    if len(rows) != ih:
        iy, iy1 = np.searchsorted(rows, iy), np.searchsorted(rows, iy1)
    out = part.take(iy, axis=0)
    out *= (np.float32(1) - dy)[:, None, None]
    if two_rows:
        below = part.take(iy1[: h - 1], axis=0)
        below *= dy[: h - 1, None, None]
        out[: h - 1] += below
    return out


def _chw_rgb(hwc: np.ndarray) -> np.ndarray:
    """A view of an (h, w, k) BGR/grey float image as (3, h, w) RGB."""
    chw = hwc.transpose(2, 0, 1)
    return chw[::-1] if chw.shape[0] == 3 else np.broadcast_to(chw, (3,) + chw.shape[1:])


def resize_bgr(bgr: np.ndarray, w: int, h: int) -> np.ndarray:
    """`resize_image(from_bgr(bgr), w, h)`, bit for bit, from the uint8 decode without converting
    the whole image to float first (`_resize_hwc`). For a photo shrunk to 416x416 that is a small
    fraction of the pixels."""
    return np.ascontiguousarray(_chw_rgb(_resize_hwc(bgr, w, h)))


def letterbox_size(im_w: int, im_h: int, w: int, h: int) -> tuple[int, int]:
    """The (new_w, new_h) Darknet resizes to before centring (its integer arithmetic), each side at
    least 1 px: Darknet's 0 (a 5000x2 image into 96x96) resizes to nothing and divides by zero
    when mapping boxes back; one row of pixels keeps the image and finite boxes."""
    if np.float32(w) / np.float32(im_w) < np.float32(h) / np.float32(im_h):
        return w, max(1, (im_h * w) // im_w)
    return max(1, (im_w * h) // im_h), h


def correct_boxes(boxes, image_w: int, image_h: int, net_w: int, net_h: int, letterbox: bool = True):
    """Darknet's `correct_region_boxes` (relative=1): boxes on the letterboxed canvas to boxes on
    the image. Takes torch tensors or numpy arrays (the torch and the torch-free engines share it);
    float64 arithmetic, returned in the input's dtype."""
    if not letterbox:
        return boxes
    new_w, new_h = letterbox_size(image_w, image_h, net_w, net_h)
    tensor = hasattr(boxes, "double")  # torch.Tensor; numpy arrays have no .double()
    out = boxes.double().clone() if tensor else boxes.astype(np.float64)
    out[..., 0] = (out[..., 0] - (net_w - new_w) / 2.0 / net_w) / (new_w / net_w)
    out[..., 1] = (out[..., 1] - (net_h - new_h) / 2.0 / net_h) / (new_h / net_h)
    out[..., 2] = out[..., 2] * (net_w / new_w)
    out[..., 3] = out[..., 3] * (net_h / new_h)
    return out.to(boxes.dtype) if tensor else out.astype(boxes.dtype)


def _place(resized: np.ndarray, w: int, h: int) -> np.ndarray:
    c, new_h, new_w = resized.shape
    boxed = np.full((c, h, w), 0.5, dtype=np.float32)
    dx, dy = (w - new_w) // 2, (h - new_h) // 2
    boxed[:, dy:dy + new_h, dx:dx + new_w] = resized[:, : h - dy, : w - dx]
    return boxed


def letterbox_image(im: np.ndarray, w: int, h: int) -> np.ndarray:
    """Darknet's `letterbox_image`: aspect-preserving resize centred on a 0.5 grey (C, h, w) canvas."""
    c, ih, iw = im.shape
    new_w, new_h = letterbox_size(iw, ih, w, h)
    return _place(resize_image(im, new_w, new_h), w, h)


def prepare(im: np.ndarray, w: int, h: int, letterbox: bool = True) -> np.ndarray:
    """The network input for one image: letterboxed (Darknet's `detector test`) or stretched."""
    return letterbox_image(im, w, h) if letterbox else resize_image(im, w, h)


def prepare_bgr(bgr: np.ndarray, w: int, h: int, letterbox: bool = True) -> np.ndarray:
    """`prepare(from_bgr(bgr), w, h, letterbox)` bit for bit, from the uint8 decode; the letterbox
    canvas is filled straight from the resize's (h, w, k) layout (one copy)."""
    if not letterbox:
        return resize_bgr(bgr, w, h)
    ih, iw = bgr.shape[:2]
    new_w, new_h = letterbox_size(iw, ih, w, h)
    resized = _chw_rgb(_resize_hwc(bgr, new_w, new_h))
    boxed = np.full((3, h, w), 0.5, dtype=np.float32)
    dx, dy = (w - new_w) // 2, (h - new_h) // 2
    boxed[:, dy:dy + new_h, dx:dx + new_w] = resized[:, : h - dy, : w - dx]
    return boxed
