"""Darknet's detection augmentation: boxes follow the pixels through crop, resize, flip; HSV."""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.train.augment import Jitter, augment_detection, correct_label_boxes, crop_resize, distort, draw_jitter, fill_truth


def _white_rect(h=80, w=120, box=(30, 20, 70, 50)):
    img = np.zeros((h, w, 3), np.float32)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = 1.0
    label = np.array([[1, (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]], np.float32)
    return img, label


@pytest.mark.parametrize("seed", range(8))
def test_truth_box_follows_the_pixels(seed):
    img, label = _white_rect()
    rng = np.random.default_rng(seed)
    out, truth = augment_detection(img, label, rng, 64, 48, jitter=0.2, hue=0, saturation=1, exposure=1,
                                   max_boxes=30)
    assert out.shape == (3, 48, 64) and truth.shape == (30, 5)
    x, y, w, h, c = truth[0]
    assert c == 1 and not truth[1:].any()
    ys, xs = np.nonzero(out[0] > 0.5)
    left, right = xs.min() / 63, xs.max() / 63      # aligned corners: pixel k sits at k/(W-1)
    top, bottom = ys.min() / 47, ys.max() / 47
    assert x - w / 2 == pytest.approx(left, abs=0.04) and x + w / 2 == pytest.approx(right, abs=0.04)
    assert y - h / 2 == pytest.approx(top, abs=0.05) and y + h / 2 == pytest.approx(bottom, abs=0.05)


def test_no_jitter_same_size_is_identity():
    img = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
    out = crop_resize(img, Jitter(0, 0, 0, 0, False), 50, 40)
    np.testing.assert_allclose(out, img, atol=1e-5)
    flipped = crop_resize(img, Jitter(0, 0, 0, 0, True), 50, 40)
    np.testing.assert_allclose(flipped, img[:, ::-1], atol=1e-5)


def test_crop_outside_repeats_the_border():
    img = np.zeros((10, 10, 3), np.float32)
    img[:, 0] = 1.0  # left column white
    out = crop_resize(img, Jitter(-5, 0, 0, 0, False), 15, 10)  # 5 columns left of the image
    assert (out[:, :6, 0] > 0.99).all() and (out[:, 7:, 0] < 0.01).all()


def test_correct_boxes_clips_and_flips():
    labels = np.array([[2, 0.1, 0.5, 0.4, 0.2]], np.float32)    # reaches past the left edge
    j = Jitter(10, 0, 0, 0, True)                               # crop 10 px off the left, flip
    box = correct_label_boxes(labels, j, 100, 100)[0]
    # left edge -0.1*100 -> (-10-10)/90 clipped to 0; right 30 -> 20/90; flipped: [1-20/90, 1]
    assert box[0] == pytest.approx(1 - 10 / 90, abs=1e-6) and box[2] == pytest.approx(20 / 90, abs=1e-6)
    assert box[4] == 2


def test_fill_truth_drops_tiny_boxes_and_keeps_max():
    boxes = np.array([[.5, .5, .0005, .2, 0], [.3, .3, .1, .1, 1], [.6, .6, .2, .2, 2]], np.float32)
    truth = fill_truth(boxes, 2)   # first 2 kept, then the tiny one dropped (compacted)
    assert truth[0, 4] == 1 and not truth[1].any()


def test_distort_exposure_and_identity():
    img = np.full((4, 4, 3), 0.3, np.float32)
    assert distort(img, 0.0, 1.0, 1.0) is img
    np.testing.assert_allclose(distort(img, 0.0, 1.0, 2.0), 0.6, atol=1e-5)
    np.testing.assert_allclose(distort(img, 0.0, 1.0, 4.0), 1.0, atol=1e-5)  # clipped


def test_hue_rotates_colours():
    img = np.zeros((2, 2, 3), np.float32)
    img[..., 0] = 1.0  # red
    out = distort(img, 1 / 3, 1.0, 1.0)  # +120 degrees: green
    np.testing.assert_allclose(out[0, 0], [0, 1, 0], atol=1e-4)


def test_draws_stay_in_darknet_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        j = draw_jitter(rng, 100, 50, 0.2, 0.1, 1.5, 1.5)
        assert -20 <= j.pleft <= 20 and -10 <= j.ptop <= 10
        assert -0.1 <= j.dhue <= 0.1 and 1 / 1.5 <= j.dsat <= 1.5 and 1 / 1.5 <= j.dexp <= 1.5


def test_correct_boxes_keeps_darknets_class_only_marker():
    """Darknet's correct_label_boxes turns x = y = 0 into its 999999 marker; the marker form passes too."""
    from darkpy.formats.labels import MARK

    j = Jitter(pleft=10, pright=-5, ptop=3, pbot=7, flip=True)
    labels = np.array([[4, 0, 0, 0.3, 0.2], [2, 0.5, 0.5, 0.2, 0.2], [6, 1e6, 1e6, 1, 1]], np.float32)
    out = correct_label_boxes(labels, j, 100, 100)
    assert out[0].tolist() == pytest.approx([MARK, MARK, 0.3, 0.2, 4])
    assert out[2].tolist() == [MARK, MARK, 1, 1, 6]
    assert out[1, 0] < 1 and out[1, 4] == 2
    truth = fill_truth(np.array([[MARK, MARK, 0.0, 0.0, 4]], np.float32), 3)
    assert truth[0, 4] == 4, "a marker is never dropped as a small box"
