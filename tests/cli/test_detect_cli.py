"""`darkpy detect` end to end on the hand-weighted detector (tests/detnet.py)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.detnet import make_detector, make_image


@pytest.fixture
def model(tmp_path):
    return make_detector(tmp_path / "model")


def test_detect_one_image_prints_and_saves(tmp_path, model, cli, monkeypatch):
    cfg, weights, names = model
    img = make_image(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("detect", img, "--cfg", cfg, "--weights", weights, "--names", names)
    assert code == 0, out + err
    assert "yellowish: 99%" in out or "yellowish: 98%" in out
    saved = cv2.imread(str(tmp_path / "predictions.jpg"))
    assert saved is not None and saved.shape == (64, 128, 3)


def test_detect_json_many_and_bad_image(tmp_path, model, cli):
    cfg, weights, names = model
    folder = tmp_path / "imgs"
    folder.mkdir()
    make_image(folder / "a.png")
    make_image(folder / "b.png", 64, 64)
    (folder / "c.jpg").write_text("broken")
    code, out, err = cli("detect", folder, "--cfg", cfg, "--weights", weights, "--names", names, "--json",
                         "--out", tmp_path / "out", "--batch", "2")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["image"].split("/")[-1] for r in rows] == ["a.png", "b.png"]
    det = rows[1]["detections"][0]
    assert det["class"] == "yellowish" and det["box"] == [0.0, 0.0, 32.0, 32.0]
    assert (tmp_path / "out" / "a.jpg").exists() and (tmp_path / "out" / "b.jpg").exists()


@pytest.mark.parametrize("extra,message", [
    (["--size", "100"], "multiple of 32"),
    (["--names", "missing.names"], "names file not found"),
])
def test_detect_user_errors(tmp_path, model, cli, extra, message):
    cfg, weights, _ = model
    img = make_image(tmp_path / "a.png")
    code, out, err = cli("detect", img, "--cfg", cfg, "--weights", weights, "--no-save", *extra)
    assert code == 2 and message in err


def test_detect_weights_that_do_not_match(tmp_path, model, cli):
    cfg, _, _ = model
    bad = tmp_path / "bad.cfg"
    bad.write_text(cfg.read_text().replace("filters=7", "filters=14").replace("num=1", "num=2")
                   .replace("anchors = 1,1", "anchors = 1,1,2,2"))
    img = make_image(tmp_path / "a.png")
    code, out, err = cli("detect", img, "--cfg", bad, "--weights", model[1], "--no-save")
    assert code == 2 and err


@pytest.mark.slow
def test_detect_on_video_file(tmp_path, model, cli):
    cfg, weights, names = model
    src = tmp_path / "in.avi"
    vw = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 64))
    assert vw.isOpened()
    for i in range(5):
        frame = np.zeros((64, 128, 3), np.uint8)
        frame[:32, :64] = (0, 255, 255)
        vw.write(frame)
    vw.release()
    out = tmp_path / "out.avi"
    code, stdout, err = cli("detect", "--source", src, "--cfg", cfg, "--weights", weights, "--names", names,
                            "--out", out, "--frames", "4", "--json", "--no-show")
    assert code == 0, stdout + err
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [r["frame"] for r in rows] == [0, 1, 2, 3]
    assert all(r["detections"][0]["class"] == "yellowish" for r in rows)
    cap = cv2.VideoCapture(str(out))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (64, 128, 3)
        n += 1
    assert n == 4


# -- issue 20 --------------------------------------------------------------------------------------

def test_darknet_form_with_the_demo_cfg_prints_class_names(cli, tmp_path, monkeypatch):
    from darkpy.assets import ROOT

    monkeypatch.chdir(tmp_path)
    code, out, err = cli("detect", ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights",
                         ROOT / "data" / "demo" / "images" / "001988.jpg")
    assert code == 0, out + err
    assert "square: 91%" in out
    assert "wrote predictions.jpg" in err and (tmp_path / "predictions.jpg").exists()  # says where it wrote


@pytest.mark.parametrize("form", [["detect", "-", "--cfg", "cfg/demo.cfg", "--weights", "data/demo/demo.weights"],
                                  ["detector", "test", "data/demo/demo.data", "cfg/demo.cfg",
                                   "data/demo/demo.weights"]])
def test_empty_stdin_without_a_terminal_is_one_line_and_exit_2(form):
    import os
    import subprocess
    import sys

    from darkpy.assets import ROOT

    run = subprocess.run([sys.executable, "-m", "darkpy", *form], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert run.returncode == 2, run.stderr
    assert "no image paths on stdin" in run.stderr and "Traceback" not in run.stderr


def test_a_folder_runs_in_small_batches_on_a_cpu_and_8_on_a_gpu(monkeypatch):
    """On a CPU two small passes run side by side (lanes): 2 images each in fp32, 1 in bf16."""
    from darkpy.cli.commands import detect as cmd
    from darkpy.detect import numpy_engine

    assert cmd.default_batch("cpu") == 2 and cmd.default_batch("cpu", "fp32") == 2
    assert cmd.default_batch("cpu", "bf16") == 1
    monkeypatch.setattr(numpy_engine, "cuda_may_be_wanted", lambda device: True)
    assert cmd.default_batch(None) == 8 and cmd.default_batch(None, "fp16") == 8
    monkeypatch.setattr(numpy_engine, "cuda_may_be_wanted", lambda device: False)
    assert cmd.default_batch(None) == 2
