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
