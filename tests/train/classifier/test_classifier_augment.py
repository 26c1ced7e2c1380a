"""Darknet's classification augmentation: the HSV distortion against Darknet's loops, the ranges of
the random draws and the `center=1` crop."""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.classify import image as I
from darkpy.train.classifier import augment as A
from tests.classify import cls_reference as R


@pytest.fixture
def im():
    return np.random.default_rng(0).random((13, 17, 3)).astype(np.float32)


@pytest.mark.parametrize("hue,sat,val", [(0.1, 1.33, 0.75), (-0.1, 0.75, 1.33), (0.0, 1.0, 1.2)])
def test_distort_matches_darknet_hsv(im, hue, sat, val):
    x = im.copy()
    x[0, 0] = 0.4  # grey pixel: Darknet's hue is 0/0 there, saturation 0
    x[1, 1] = 0.0
    np.testing.assert_allclose(A.distort_image(x, hue, sat, val), R.distort_image(x, hue, sat, val),
                               atol=2e-6)


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
