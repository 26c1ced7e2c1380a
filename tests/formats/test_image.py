"""Darknet's image loading, resize and letterbox (vectorised) against a slow per-pixel loop."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from darkpy.errors import DataError
from darkpy.formats.image import letterbox_image, letterbox_size, load_image_color, resize_image
from tests.formats.image_reference import resize_image_reference


@pytest.mark.parametrize("src,dst", [((7, 11), (5, 4)), ((5, 4), (13, 9)), ((6, 6), (6, 6)), ((1, 5), (3, 2)),
                                     ((9, 1), (2, 7)), ((8, 10), (1, 3)), ((13, 17), (16, 16))])
def test_resize_matches_darknet_loops(src, dst):
    rng = np.random.default_rng(sum(src) + sum(dst))
    im = rng.random((3, *src), dtype=np.float32)
    w, h = dst
    fast = resize_image(im, w, h)
    ref = resize_image_reference(im, w, h)
    assert fast.shape == (3, h, w) and fast.dtype == np.float32
    np.testing.assert_array_equal(fast, ref)


def test_resize_same_size_is_identity():
    im = np.random.default_rng(0).random((3, 9, 12), dtype=np.float32)
    np.testing.assert_array_equal(resize_image(im, 12, 9), im)


def test_letterbox_geometry_and_fill():
    im = np.ones((3, 20, 40), np.float32)
    assert letterbox_size(40, 20, 32, 32) == (32, 16)
    assert letterbox_size(20, 40, 32, 32) == (16, 32)
    out = letterbox_image(im, 32, 32)
    assert out.shape == (3, 32, 32)
    assert np.all(out[:, :8] == 0.5) and np.all(out[:, 24:] == 0.5)
    np.testing.assert_allclose(out[:, 8:24], 1.0, atol=1e-6)
    np.testing.assert_array_equal(out[:, 8:24], resize_image(im, 32, 16))


def test_load_image_color_is_rgb_chw(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    bgr[0, 0] = (0, 51, 0)
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    im = load_image_color(tmp_path / "a.png")
    assert im.shape == (3, 4, 6) and im.dtype == np.float32
    assert im[0, 1, 1] == 1.0 and im[1, 1, 1] == 0 and im[2, 1, 1] == 0
    assert im[1, 0, 0] == np.float32(51 / 255.0)


def test_unreadable_image(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(DataError, match="cannot decode"):
        load_image_color(bad)
    with pytest.raises(DataError, match="not found"):
        load_image_color(tmp_path / "missing.jpg")


def test_prepare_bgr_is_bit_identical_to_float_then_resize():
    """The uint8 path (gather the rows/columns the resize reads, then convert) must give exactly
    Darknet's float pipeline, so golden boxes do not move."""
    from darkpy.formats.image import from_bgr, prepare, prepare_bgr, resize_bgr, resize_image

    rng = np.random.default_rng(0)
    cases = 0
    for shape in [(576, 768, 3), (1, 1, 3), (1, 50, 3), (50, 1, 3), (7, 9, 3), (300, 200, 3), (100, 100),
                  (2, 2, 3), (33, 517, 4)]:
        for w, h in [(416, 416), (1, 1), (13, 1), (1, 13), (96, 96), (5, 600), (2, 2)]:
            bgr = rng.integers(0, 256, shape, dtype=np.uint8)
            got = resize_bgr(bgr, w, h)
            ref = resize_image(from_bgr(bgr[:, :, :3] if bgr.ndim == 3 else bgr), w, h)
            assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), (shape, w, h)
            for letterbox in (True, False):
                try:
                    ref = prepare(from_bgr(bgr[:, :, :3] if bgr.ndim == 3 else bgr), w, h, letterbox)
                except ValueError:  # a letterbox side of 0 pixels: not an input Darknet takes either
                    continue
                got = prepare_bgr(bgr, w, h, letterbox)
                assert np.array_equal(got.view(np.uint32), ref.view(np.uint32)), (shape, w, h, letterbox)
                cases += 1
    assert cases > 50
