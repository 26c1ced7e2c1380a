import cv2
import numpy as np
import pytest

from darkpy.formats.imagesize import ImageUnreadable, image_size


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".tif"])
def test_header_size_matches_opencv(tmp_path, ext):
    path = tmp_path / f"a{ext}"
    cv2.imwrite(str(path), np.zeros((37, 53, 3), np.uint8))
    assert image_size(path) == (53, 37) == image_size(path, decode=True)


def test_progressive_jpeg_with_exif_like_segment(tmp_path):
    path = tmp_path / "p.jpg"
    ok, buf = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = buf.tobytes()
    app1 = b"\xff\xe1" + (2 + 1000).to_bytes(2, "big") + b"\xff" * 1000  # a large segment before the frame
    path.write_bytes(data[:2] + app1 + data[2:])
    assert image_size(path) == (30, 20)


def test_garbage_is_unreadable(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00")
    with pytest.raises(ImageUnreadable):
        image_size(path)
    path.write_bytes(b"hello")
    with pytest.raises(ImageUnreadable):
        image_size(path)


def test_frame_header_past_the_first_read_is_found_in_the_file(tmp_path):
    """The header is parsed from the first 64 KiB in memory; a JPEG whose frame header lies
    beyond them (large EXIF/APP segments) is parsed again from the file, same answer."""
    path = tmp_path / "big.jpg"
    ok, buf = cv2.imencode(".jpg", np.zeros((21, 34, 3), np.uint8))
    data = buf.tobytes()
    segment = b"\xff\xe1" + (2 + 60000).to_bytes(2, "big") + b"\x00" * 60000
    path.write_bytes(data[:2] + segment * 3 + data[2:])
    assert path.stat().st_size > 1 << 17
    assert image_size(path) == (34, 21) == image_size(path, decode=True)
    path.write_bytes(data[:2] + segment * 3)  # cut before the frame header: still unreadable
    with pytest.raises(ImageUnreadable, match="frame header"):
        image_size(path)


def test_missing_folder_and_fifo(tmp_path):
    import os

    with pytest.raises(FileNotFoundError):
        image_size(tmp_path / "nope.jpg")
    with pytest.raises(ImageUnreadable, match="a folder, not a regular file"):
        image_size(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")
        with pytest.raises(ImageUnreadable, match="named pipe"):
            image_size(tmp_path / "pipe.jpg")  # refused by its kind, never waited on
