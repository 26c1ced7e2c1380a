"""The one `Detector` pipeline: Darknet's boxes on the golden nets, the bundled demo model's numbers
as `detect`/`valid`/`recall` gave them before the Detector existed, mixed inputs and batching."""
from __future__ import annotations

import re
import sys
import subprocess

import numpy as np
import pytest
import torch

import darkpy
from darkpy.detect.detector import Detector
from darkpy.detect.options import DetectOptions
from darkpy.detect.results import DetectionResult
from darkpy.errors import UsageError
from tests.detnet import make_detector, make_image

DEMO_CFG, DEMO_WEIGHTS = "cfg/demo.cfg", "data/demo/demo.weights"
DEMO_NAMES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def demo(request):
    root = request.config.rootpath
    return Detector(root / DEMO_CFG, root / DEMO_WEIGHTS,
                    DetectOptions(thresh=0.1, names=DEMO_NAMES, device="cpu"))


@pytest.fixture(scope="module")
def demo_images(request):
    folder = request.config.rootpath / "data" / "demo" / "images"
    return sorted(str(p) for p in folder.glob("*.jpg"))


def test_import_darkpy_stays_light():
    # options and results are torch-free (the numpy engine uses them); the torch Detector is not
    code = ("import sys, darkpy; assert 'torch' not in sys.modules; darkpy.DetectOptions; darkpy.DetectionResult; "
            "assert 'torch' not in sys.modules; darkpy.Detector; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.golden
@pytest.mark.parametrize("name", ["g_yolov2_mini", "g_tiny_mini", "g_tree_mini"])
def test_detector_gives_darknets_boxes(golden, name):
    folder = golden / "forward" / name
    lines = (folder / "boxes.txt").read_text().splitlines()
    m = re.search(r"image (\d+)x(\d+) thresh ([\d.]+) hier ([\d.]+) nms ([\d.]+)", lines[0])
    iw, ih, thresh, hier, nms = int(m[1]), int(m[2]), float(m[3]), float(m[4]), float(m[5])
    ref = np.array([[float(v) for v in line.split()] for line in lines[1:] if line.strip()])
    ref = ref[(ref[:, 4] > 0) & (ref[:, 5:] > 0).any(1)]
    det = Detector(golden / "cfg" / f"{name}.cfg", folder / "weights",
                   DetectOptions(thresh=thresh, hier_thresh=hier, nms=nms, device="cpu"))
    c, h, w = det.network.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    (res,) = det.run_prepared(x, [(iw, ih)])
    got = np.concatenate([res.rel_boxes, res.objectness[:, None], res.probs], 1)
    assert got.shape == ref.shape
    # Darknet's qsort is not stable: compare as sets
    for row in ref:
        err = np.abs(got - row).max(1)
        assert err.min() <= 1e-4 * max(1.0, np.abs(row).max()), f"Darknet box {row[:5]} not found"


def test_demo_detect_as_before(demo, demo_images):
    """The first image's detections as `darkpy detect --json --thresh 0.1` printed them before."""
    res = demo.detect(demo_images[0])
    got = [d.to_dict() for d in res[0].detections]
    want = [
        {"class": "square", "class_id": 1, "confidence": 0.907764, "objectness": 0.925042,
         "box": [8.44, 3.06, 51.67, 46.25]},
        {"class": "triangle", "class_id": 2, "confidence": 0.303143, "objectness": 0.407427,
         "box": [24.32, 61.08, 53.4, 89.49]},
        {"class": "triangle", "class_id": 2, "confidence": 0.276958, "objectness": 0.277395,
         "box": [7.93, 34.34, 46.38, 83.7]},
        {"class": "square", "class_id": 1, "confidence": 0.219527, "objectness": 0.473691,
         "box": [26.9, 65.15, 52.6, 88.18]}]
    # to the printed digit: oneDNN's packed convolutions (the CPU default) and PyTorch's own
    # small-layer path sum in different orders, 1e-7 apart, either side of a rounding
    assert [(d["class"], d["class_id"]) for d in got] == [(d["class"], d["class_id"]) for d in want]
    for g, w in zip(got, want):
        assert g["confidence"] == pytest.approx(w["confidence"], abs=1.1e-6)
        assert g["objectness"] == pytest.approx(w["objectness"], abs=1.1e-6)
        assert g["box"] == pytest.approx(w["box"], abs=0.011)


def test_demo_valid_and_recall_as_before(request, tmp_path):
    """`darkpy valid` result files and `darkpy recall`'s last line on the demo set, as before."""
    from darkpy.eval.groundtruth import find_label_files
    from darkpy.eval.recall import recall
    from darkpy.eval.run import run_detector, valid_setup, write_results

    root = request.config.rootpath
    setup = valid_setup(root / "data" / "demo" / "demo.data")
    entries = [str(root / e) for e in setup.entries]
    net = darkpy.load_network(root / DEMO_CFG, root / DEMO_WEIGHTS, device="cpu")
    result = run_detector(net, entries, batch=5)
    write_results(result, setup.names, tmp_path)
    lines = {k: (tmp_path / f"comp4_det_test_{k}.txt").read_text().splitlines() for k in DEMO_NAMES}
    assert {k: len(v) for k, v in lines.items()} == {"circle": 52, "square": 67, "triangle": 96}
    assert lines["circle"][0] == "001988 0.025638 32.865308 70.924429 45.947344 83.463850"
    assert lines["triangle"][1] == "001988 0.011120 32.431614 81.837189 45.075593 92.813919"
    labels = find_label_files(setup.entries, setup.list_path)
    rep = recall(net, entries, labels, batch=3)
    assert rep.lines[-1] == "   11    23    26\tRPs/Img: 23.08\tIOU: 72.18%\tRecall:88.46%"


def test_mixed_inputs_and_rgb(demo, demo_images):
    import cv2

    bgr = cv2.imread(demo_images[1])
    by_path = demo.detect(demo_images[1])[0]
    mixed = demo.detect([bgr, demo_images[1], bgr[:, :, ::-1].copy()])
    assert [r.index for r in mixed] == [0, 1, 2] and mixed[0].source == "<array 0>"
    assert mixed[1].source == demo_images[1]
    for r in mixed[:2]:
        assert r.size == by_path.size
        np.testing.assert_array_equal(r.probs, by_path.probs)
        np.testing.assert_array_equal(r.rel_boxes, by_path.rel_boxes)
    # the RGB copy, read as BGR, is a different image; told it is RGB, it is the same one
    rgb = Detector(demo.predictor, options=demo.options.replace(rgb=True)).detect(bgr[:, :, ::-1].copy())[0]
    np.testing.assert_array_equal(rgb.probs, by_path.probs)


def test_batches_equal_single_images(demo, demo_images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    items = demo_images[:5] + [str(bad)] + demo_images[5:7]
    errors = []
    one = demo.detect(items, on_error=lambda e, err: errors.append(e))
    batched = Detector(demo.predictor, options=demo.options.replace(batch=3)).detect(
        items, on_error=lambda e, err: errors.append(e))
    assert errors == [str(bad), str(bad)]
    assert [r.source for r in one] == [r.source for r in batched] == demo_images[:7]
    for a, b in zip(one, batched):
        np.testing.assert_allclose(a.rel_boxes, b.rel_boxes, atol=1e-6)
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
        assert [(d.cls, round(d.prob, 5)) for d in a] == [(d.cls, round(d.prob, 5)) for d in b]


def test_result_fields_on_a_known_box(tmp_path):
    cfg, weights, _ = make_detector(tmp_path / "m")
    img = make_image(tmp_path / "a.png", 128, 64)
    det = Detector(cfg, weights, DetectOptions(names=["yellowish", "purplish"], device="cpu"))
    (r,) = det.detect([img])
    assert isinstance(r, DetectionResult) and (r.width, r.height) == (128, 64)
    assert len(r) == 1 and r[0].name == "yellowish" and r.class_ids.tolist() == [0]
    assert r.class_names == ["yellowish"] and r.scores.tolist() == [r[0].prob]
    np.testing.assert_allclose(r.rel_boxes, [[0.25, 0.0, 0.5, 1.0]], atol=1e-5)
    np.testing.assert_allclose(r.boxes, [[0, -32, 64, 32]], atol=1e-3)
    np.testing.assert_allclose(r.pixel_boxes, [[32, 0, 64, 64]], atol=1e-3)
    assert r.probs.shape == (1, 2) and r.to_dict()["detections"][0]["class"] == "yellowish"


def test_recall_options_keep_objectness_boxes(tmp_path):
    cfg, weights, _ = make_detector(tmp_path / "m")
    img = make_image(tmp_path / "a.png", 64, 64)
    (r,) = Detector(cfg, weights, DetectOptions.recall(device="cpu")).detect(img)
    assert len(r.rel_boxes) >= 1 and (r.objectness > 0.001).all()


def test_options_are_checked(tmp_path):
    with pytest.raises(UsageError):
        DetectOptions(nms_kind="greedy")
    with pytest.raises(UsageError):
        DetectOptions(thresh=2)
    with pytest.raises(UsageError):
        DetectOptions(batch=0)
    with pytest.raises(UsageError):
        DetectOptions(precision="int4")
    assert DetectOptions.valid().thresh == 0.005 and DetectOptions.recall().letterbox is False
    assert DetectOptions(size=416).input_size() == (416, 416)
    assert DetectOptions(width=320, height=256).input_size() == (320, 256)


def test_size_option_resizes_a_copy(tmp_path):
    cfg, weights, _ = make_detector(tmp_path / "m")
    net = darkpy.load_network(cfg, weights, device="cpu")
    det = Detector(net, options=DetectOptions(size=128))
    assert det.input_size == (128, 128) and (net.net.width, net.net.height) == (64, 64)
    assert Detector(cfg, weights, DetectOptions(size=96, device="cpu")).input_size == (96, 96)


def test_a_classifier_is_not_a_detector(golden):
    from darkpy.errors import DataError

    with pytest.raises(DataError, match="not a detector"):
        Detector(golden / "cfg" / "g_classifier_mini.cfg", options=DetectOptions(device="cpu"))


def test_class_map_needs_a_tree_network(tmp_path):
    cfg, weights, _ = make_detector(tmp_path / "m")
    with pytest.raises(UsageError, match="WordTree"):
        Detector(cfg, weights, DetectOptions(class_map=[0, 1], device="cpu"))


@pytest.mark.parametrize("command,flag", [("valid", "--thresh"), ("recall", "--nms")])
def test_out_of_range_settings_are_one_line_errors(cli, tmp_path, command, flag):
    from tests.eval.netdata import make_valid_set

    s = make_valid_set(tmp_path / "set")
    code, _, err = cli(command, s["data"], s["cfg"], s["weights"], "--workers", "0", flag, "1.5")
    assert code == 2 and "must lie in [0, 1]" in err
