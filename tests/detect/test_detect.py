"""detect_images on a hand-made detector: the boxes it must find are known exactly."""
from __future__ import annotations

import pytest

import darkpy
from darkpy.detect.output import expand_inputs
from darkpy.detect.pipeline import detect_images

from tests.detnet import make_detector, make_image


@pytest.fixture
def detector(tmp_path):
    return make_detector(tmp_path / "model")


def test_known_box_with_letterbox(tmp_path, detector):
    cfg, weights, names = detector
    img = make_image(tmp_path / "a.png", 128, 64)
    net = darkpy.load_network(cfg, weights, device="cpu")
    (path, (h, w), dets), = list(detect_images(net, [img], names=["yellowish", "purplish"]))
    assert (h, w) == (64, 128)
    assert len(dets) == 1
    d = dets[0]
    assert d.cls == 0 and d.name == "yellowish" and d.prob > 0.98
    # letterboxed to 64x32 at rows 16..48: the top-left cell maps back to x 0..64, y -32..32
    assert d.x1 == pytest.approx(0, abs=1e-3) and d.x2 == pytest.approx(64, abs=1e-3)
    assert d.y1 == pytest.approx(-32, abs=1e-3) and d.y2 == pytest.approx(32, abs=1e-3)
    assert d.clipped(w, h) == (0, 0, 64, 32)
    assert d.valid_box(w, h) == pytest.approx((1, 1, 65, 33))


def test_known_box_without_letterbox_and_batches(tmp_path, detector):
    cfg, weights, names = detector
    a = make_image(tmp_path / "a.png", 128, 64)
    b = make_image(tmp_path / "b.png", 64, 96)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    net = darkpy.load_network(cfg, weights, device="cpu")
    errors = []
    res = list(detect_images(net, [a, bad, b], letterbox=False, batch=2,
                             on_error=lambda p, m: errors.append(p)))
    assert [r[0] for r in res] == [str(a), str(b)] and errors == [str(bad)]
    (_, _, da), (_, _, db) = res
    assert [round(v, 3) for v in (da[0].x1, da[0].y1, da[0].x2, da[0].y2)] == [0, 0, 64, 32]
    assert [round(v, 3) for v in (db[0].x1, db[0].y1, db[0].x2, db[0].y2)] == [0, 0, 32, 48]


def test_valid_thresholds_keep_more(tmp_path, detector):
    cfg, weights, _ = detector
    img = make_image(tmp_path / "a.png", 64, 64)
    net = darkpy.load_network(cfg, weights, device="cpu")
    (_, _, dets), = list(detect_images(net, [img], thresh=0.005, nms=0, keep_probs=True))
    assert dets[0].prob > 0.98 and dets[0].probs.shape == (2,)
    assert len(dets) >= 1


def test_expand_inputs(tmp_path):
    for n in "abc":
        make_image(tmp_path / f"{n}.png", 8, 8)
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'a.png'}\n\n{tmp_path / 'b.png'}\n")
    assert expand_inputs([str(tmp_path)]) == [str(tmp_path / f"{n}.png") for n in "abc"]
    assert expand_inputs([str(tmp_path / "*.png")])[-1] == str(tmp_path / "c.png")
    assert expand_inputs([str(tmp_path / "list.txt")]) == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    import io
    assert expand_inputs(["-"], stdin=io.StringIO("x.jpg\ny.jpg\n")) == ["x.jpg", "y.jpg"]


def test_darknet_colours_and_drawing():
    import numpy as np

    from darkpy.detect.results import Detection
    from darkpy.detect.output import class_color, draw_detections, format_detections

    assert class_color(11, 20) == (0, 191, 255)  # VOC "dog": Darknet's orange
    assert class_color(0, 2) == (255, 0, 255)
    img = np.zeros((100, 200, 3), np.uint8)
    d = Detection(0, 0.823, 20.0, 40.0, 120.0, 90.0, 0.9, "dog")
    out = draw_detections(img, [d], 2)
    assert img.sum() == 0 and tuple(out[70, 20]) == (255, 0, 255)
    assert format_detections([d]) == ["dog: 82%"]
