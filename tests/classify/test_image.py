from __future__ import annotations

import numpy as np
import pytest

import cls_reference as R
from darkpy.classify import augment as A
from darkpy.classify import image as I


@pytest.fixture
def im():
    return np.random.default_rng(0).random((13, 17, 3)).astype(np.float32)


@pytest.mark.parametrize("w,h", [(8, 5), (30, 20), (17, 13), (1, 4), (5, 1)])
def test_resize_matches_darknet_loops(im, w, h):
    np.testing.assert_allclose(I.resize_image(im, w, h), R.resize_image(im, w, h), atol=2e-7)


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


@pytest.mark.parametrize("hue,sat,val", [(0.1, 1.33, 0.75), (-0.1, 0.75, 1.33), (0.0, 1.0, 1.2)])
def test_distort_matches_darknet_hsv(im, hue, sat, val):
    x = im.copy()
    x[0, 0] = 0.4  # grey pixel: Darknet's hue is 0/0 there, saturation 0
    x[1, 1] = 0.0
    np.testing.assert_allclose(I.distort_image(x, hue, sat, val), R.distort_image(x, hue, sat, val),
                               atol=2e-6)


def test_letterbox_geometry():
    im = np.ones((10, 20, 3), np.float32)
    out = I.letterbox_image(im, 16, 16)
    assert out.shape == (16, 16, 3)
    assert np.all(out[:4] == 0.5) and np.all(out[12:] == 0.5) and np.all(out[4:12] == 1)


def test_augment_ranges_follow_the_cfg():
    cfg = A.AugmentConfig(32, 32, 24, 48, angle=7, aspect=0.75, hue=0.1, saturation=0.75, exposure=0.75)
    rng = np.random.default_rng(3)
    rads, aspects, sats, hues = [], [], [], []
    for _ in range(400):
        a = A.random_args(rng, 64, 48, cfg)
        rads.append(a.rad), aspects.append(a.aspect), sats.append(a.sat), hues.append(a.hue)
    assert max(np.abs(rads)) <= 7 * np.pi / 180 + 1e-9 and max(np.abs(rads)) > 5 * np.pi / 180
    assert 0.75 - 1e-6 <= min(aspects) and max(aspects) <= 1 / 0.75 + 1e-6
    assert min(sats) < 0.8 and max(sats) > 1.25
    assert max(np.abs(hues)) <= 0.1
    out = A.augment(np.random.default_rng(0).random((48, 64, 3)).astype(np.float32), rng, cfg)
    assert out.shape == (32, 32, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_center_option_uses_center_crop():
    cfg = A.AugmentConfig(8, 8, 8, 16, center=True, flip=False)
    im = np.random.default_rng(0).random((10, 14, 3)).astype(np.float32)
    np.testing.assert_allclose(A.augment(im, np.random.default_rng(0), cfg), I.center_crop_image(im, 8, 8),
                               atol=1e-6)
