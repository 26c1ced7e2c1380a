from __future__ import annotations

import numpy as np
import pytest

import cls_reference as R
from darkpy.classify import image as I


@pytest.fixture
def im():
    return np.random.default_rng(0).random((13, 17, 3)).astype(np.float32)


@pytest.mark.parametrize("w,h", [(8, 5), (30, 20), (17, 13), (1, 4), (5, 1)])
def test_resize_matches_darknet_loops(im, w, h):
    np.testing.assert_allclose(I.resize_hwc(im, w, h), R.resize_image(im, w, h), atol=2e-7)


def test_resize_min_arithmetic():
    assert I.resize_min_size(500, 375, 224) == (298, 224)
    assert I.resize_min_size(375, 500, 224) == (224, 298)
    assert I.resize_min_size(224, 224, 224) == (224, 224)


@pytest.mark.parametrize("dx,dy,w,h", [(2, 3, 5, 4), (-3, -2, 8, 9), (10, 8, 9, 9)])
def test_crop_clamps_like_darknet(im, dx, dy, w, h):
    np.testing.assert_array_equal(I.crop_image(im, dx, dy, w, h), R.crop_image(im, dx, dy, w, h))


def test_center_crop_after_resize_min(im):
    got = I.resize_center_crop(im, 10, 10)
    r = R.resize_image(im, (17 * 10) // 13, 10)
    np.testing.assert_allclose(got, R.crop_image(r, (r.shape[1] - 10) // 2, 0, 10, 10), atol=2e-7)


@pytest.mark.parametrize("args", [(0.1, 1.3, 8, 7, 1.5, -0.7, 0.8), (-0.12, 0.6, 12, 12, -3.0, 2.0, 1.25),
                                  (0.0, 1.0, 17, 13, 0.0, 0.0, 1.0)])
def test_rotate_crop_matches_darknet_bilinear(im, args):
    np.testing.assert_allclose(I.rotate_crop_image(im, *args), R.rotate_crop_image(im, *args), atol=1e-5)


def test_letterbox_geometry():
    im = np.ones((10, 20, 3), np.float32)
    out = I.letterbox_hwc(im, 16, 16)
    assert out.shape == (16, 16, 3)
    assert np.all(out[:4] == 0.5) and np.all(out[12:] == 0.5) and np.all(out[4:12] == 1)
