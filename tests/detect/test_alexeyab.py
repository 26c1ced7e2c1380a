"""AlexeyAB's outputs: -ext_output lines, -out result.json, -save_labels files, and where its loader
looks for labels."""
from __future__ import annotations

import json

import numpy as np

from darkpy.assets import ROOT
from darkpy.detect.alexeyab import c_round, ext_output_line, json_document, json_entry, label_lines
from darkpy.detect.results import DetectionResult
from darkpy.formats.alexeyab import label_path
from darkpy.formats.labels import label_path_for

DEMO = ["--cfg", ROOT / "cfg" / "demo.cfg", "--weights", ROOT / "data" / "demo" / "demo.weights",
        "--names", ROOT / "data" / "demo" / "demo.names"]


def _result():
    rel = np.array([[0.5, 0.25, 0.5, 0.5], [0.125, 0.75, 0.25, 0.5]])
    probs = np.array([[0.0, 0.9, 0.3], [0.6, 0.0, 0.0]])
    return DetectionResult("a/images/x.jpg", 0, 200, 100, rel, np.array([0.95, 0.7]), probs,
                           names=["circle", "square", "triangle"])


def test_ext_output_is_alexeyabs_line():
    r = _result()
    d = r.detections[0]
    assert ext_output_line(d, "square: 90%") == \
        "square: 90%\t(left_x:   50   top_y:    0   width:  100   height:   50)"
    assert c_round(2.5) == 3 and c_round(-2.5) == -3


def test_json_is_alexeyabs_layout():
    text = json_document([json_entry(_result(), 1)])
    data = json.loads(text)
    assert data[0]["frame_id"] == 1 and data[0]["filename"] == "a/images/x.jpg"
    assert [(o["class_id"], o["name"]) for o in data[0]["objects"]] == [(1, "square"), (2, "triangle"),
                                                                      (0, "circle")]
    assert data[0]["objects"][0]["relative_coordinates"] == {"center_x": 0.5, "center_y": 0.25, "width": 0.5,
                                                             "height": 0.5}
    assert text.startswith('[\n{\n "frame_id":1, \n "filename":"a/images/x.jpg", \n "objects": [ \n  {"class_id":1')


def test_save_labels_writes_the_best_class_above_the_threshold():
    assert label_lines(_result(), 0.5) == "1 0.5000 0.2500 0.5000 0.5000\n0 0.1250 0.7500 0.2500 0.5000\n"
    assert label_lines(_result(), 0.95) == ""


def test_label_paths_of_both_darknets():
    assert label_path("set/images/0001.jpg") == label_path("set/images/0001.jpg").with_suffix(".txt")
    assert str(label_path("set/images/0001.jpg")) == "set/images/0001.txt"
    assert str(label_path_for("set/images/0001.jpg")) == "set/labels/0001.txt"
    assert str(label_path("VOC/VOC2007/JPEGImages/1.jpg")) == "VOC/VOC2007/labels/1.txt"
    assert str(label_path("coco/images/val2014/a.PNG")) == "coco/labels/val2014/a.txt"


def test_detector_test_with_alexeyabs_flags(cli, tmp_path, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "data" / "demo" / "images", tmp_path / "images")
    image = tmp_path / "images" / "001988.jpg"
    code, out, err = cli("detect", image, *DEMO, "--ext-output", "--save-labels", "--json-out", "r.json",
                         "--no-save")
    assert code == 0, out + err
    assert "square: 91%\t(left_x:    8   top_y:    3   width:   43   height:   43)" in out
    assert (tmp_path / "images" / "001988.txt").read_text().startswith("1 0.3131 0.2568 ")
    assert json.loads((tmp_path / "r.json").read_text())[0]["objects"][0]["name"] == "square"


def test_synth_labels_serve_both_darknets_and_check_warns(cli, tmp_path):
    code, out, err = cli("data", "synth", "-o", tmp_path / "s", "--images", "3")
    assert code == 0, out + err
    for name in ("000000", "000002"):
        assert (tmp_path / "s" / "labels" / f"{name}.txt").read_text() == \
            (tmp_path / "s" / "images" / f"{name}.txt").read_text()
    (tmp_path / "s" / "images" / "000001.txt").unlink()
    code, out, err = cli("data", "check", tmp_path / "s" / "synth.data")
    assert code == 0 and "one-darknet" in out and "AlexeyAB's Darknet looks for" in out
