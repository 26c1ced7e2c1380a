"""The torch-free numpy engine (darkpy.net.numpy_forward) against Darknet's golden vectors and
against darkpy's torch engine; and `darkpy detect` running it without importing torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darkpy.net.numpy_forward import NumpyNetwork, NumpyUnsupported
from golden_layers import assert_layers_match_darknet

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SUPPORTED = ["g_tiny_mini", "g_yolov2_mini"]


@pytest.mark.golden
@pytest.mark.parametrize("name", SUPPORTED)
def test_every_layer_output_matches_darknet(name):
    cfg, folder = GOLDEN / "cfg" / f"{name}.cfg", GOLDEN / "forward" / name
    net = NumpyNetwork.load(cfg, folder / "weights")
    x = np.fromfile(folder / "input.f32", np.float32).reshape(1, net.channels, net.height, net.width)
    outs = net.forward(x, keep=True)
    assert assert_layers_match_darknet(net, folder, outs)


@pytest.mark.parametrize("name", ["g_tree_mini", "g_yolov3_mini", "g_classifier_mini", "g_connected_mini"])
def test_other_layer_types_are_declined(name):
    with pytest.raises(NumpyUnsupported):
        NumpyNetwork.build(GOLDEN / "cfg" / f"{name}.cfg")


def _torch_outputs(cfg, weights, x):
    import torch

    import darkpy
    from darkpy.net.inference import Predictor

    net = darkpy.load_network(cfg, weights, device="cpu")
    pred = Predictor(net, precision="fp32")
    return [o.numpy() for o in pred(torch.from_numpy(x))]


@pytest.mark.parametrize("cfg", ["cfg/demo.cfg", "cfg/yolov2-tiny-voc.cfg"])
def test_region_outputs_equal_the_torch_engine(cfg, tmp_path):
    import darkpy

    cfg = ROOT / cfg
    if cfg.stem == "demo":
        weights = ROOT / "data" / "demo" / "demo.weights"
    else:
        weights = tmp_path / "w.weights"
        darkpy.load_network(cfg, device="cpu").save_weights(weights)
    net = NumpyNetwork.load(cfg, weights)
    x = np.random.default_rng(0).random((1, 3, net.height, net.width), np.float32)
    got, = net.forward(x)
    ref, = _torch_outputs(cfg, weights, x)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def _compare(cfg, weights, images, thresh=0.5, nms=0.45):
    from darkpy.detect.detector import Detector
    from darkpy.detect.options import DetectOptions
    from darkpy.detect.numpy_engine import NumpyDetector

    opts = DetectOptions(thresh=thresh, nms=nms, precision="fp32")
    ref = Detector(cfg, weights, opts).detect(images)
    got = NumpyDetector(cfg, weights, opts).detect(images)
    assert len(got) == len(ref) == len(images)
    found = 0
    for g, r in zip(got, ref):
        assert (g.width, g.height) == (r.width, r.height)
        assert len(g.detections) == len(r.detections)
        left = list(r.detections)  # same set; near-equal probabilities may come in either order
        for a in g.detections:
            match = [b for b in left if b.cls == a.cls and abs(a.prob - b.prob) < 1e-4 and np.allclose(
                [a.x1, a.y1, a.x2, a.y2], [b.x1, b.y1, b.x2, b.y2], rtol=1e-4, atol=1e-3)]
            assert match, (a, left[:3])
            left.remove(match[0])
        found += len(r.detections)
    return found


def test_demo_detections_equal_the_torch_engine():
    images = sorted(str(p) for p in (ROOT / "data" / "demo" / "images").glob("*.jpg"))
    assert _compare(ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights", images) > 0


@pytest.mark.golden
@pytest.mark.parametrize("name", SUPPORTED)
def test_golden_mini_detections_equal_the_torch_engine(name):
    folder = GOLDEN / "forward" / name
    images = [str(ROOT / "data" / "dog.jpg"), str(ROOT / "data" / "person.jpg")]
    assert _compare(GOLDEN / "cfg" / f"{name}.cfg", folder / "weights", images, thresh=0.05) > 0


@pytest.mark.slow
def test_random_tiny_voc_detections_equal_the_torch_engine(tmp_path):
    import darkpy

    cfg = ROOT / "cfg" / "yolov2-tiny-voc.cfg"
    weights = tmp_path / "w.weights"
    darkpy.load_network(cfg, device="cpu").save_weights(weights)
    # random weights give every class about the same probability: greedy NMS on near-ties is
    # decided by float noise, so the boxes are compared before suppression
    assert _compare(cfg, weights, [str(ROOT / "data" / "dog.jpg")], thresh=0.02, nms=0) > 0


DEMO = ["--cfg", str(ROOT / "cfg" / "demo.cfg"), "--weights", str(ROOT / "data" / "demo" / "demo.weights"),
        "--names", str(ROOT / "data" / "demo" / "demo.names")]
# what was imported, told by an atexit handler: `darkpy` leaves through os._exit once torch is
# loaded (darkpy.cli.process_exit), running the handlers first
PROBE = ("import atexit, runpy, sys; sys.argv = ['darkpy'] + sys.argv[1:]\n"
         "atexit.register(lambda: print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr))\n"
         "runpy.run_module('darkpy', run_name='__main__')\n")


def _run(args, cwd, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_detect_runs_without_importing_torch_and_prints_what_torch_prints(tmp_path):
    images = sorted(str(p) for p in (ROOT / "data" / "demo" / "images").glob("*.jpg"))[:3]
    fast = _run(["detect", *images, *DEMO, "--json", "--out", str(tmp_path / "np")], tmp_path)
    assert fast.returncode == 0, fast.stderr
    assert "NO-TORCH" in fast.stderr
    slow = _run(["detect", *images, *DEMO, "--json", "--engine", "torch", "--precision", "fp32",
                 "--out", str(tmp_path / "pt")], tmp_path)
    assert slow.returncode == 0, slow.stderr
    assert "NO-TORCH" not in slow.stderr
    assert ([json.loads(line) for line in fast.stdout.splitlines()]
            == [json.loads(line) for line in slow.stdout.splitlines()])
    written = [sorted(p.name for p in (tmp_path / d).iterdir()) for d in ("np", "pt")]
    assert written[0] == written[1]
    text = _run(["detect", images[0], *DEMO, "--no-save"], tmp_path)
    assert text.returncode == 0 and "NO-TORCH" in text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"{images[0]}: Predicted in ") and lines[1].endswith("%")


def test_auto_takes_torch_for_many_images_and_unsupported_cfgs(tmp_path):
    images = sorted(str(p) for p in (ROOT / "data" / "demo" / "images").glob("*.jpg"))[:5]
    many = _run(["detect", *images, *DEMO, "--no-save"], tmp_path)
    assert many.returncode == 0 and "NO-TORCH" not in many.stderr
    tree = GOLDEN / "forward" / "g_tree_mini"
    forced = _run(["detect", images[0], "--cfg", str(GOLDEN / "cfg" / "g_tree_mini.cfg"), "--weights",
                   str(tree / "weights"), "--no-save", "--engine", "numpy"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "numpy engine does not run this network" in forced.stderr


def test_engine_rule(monkeypatch):
    from darkpy.detect.numpy_engine import choose_engine

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert choose_engine("auto", 1, "auto", None) == "numpy"
    assert choose_engine("auto", 4, "fp32", "cpu") == "numpy"
    assert choose_engine("auto", 5, "fp32", "cpu") == "torch"
    assert choose_engine("auto", 1, "bf16", None) == "torch"
    assert choose_engine("auto", 1, "fp32", "cuda") == "torch"
    assert choose_engine("auto", 1, "fp32", None, compile_=True) == "torch"
    # knowing the network's work: the demo model's 12 images are less than one yolov2-voc image
    assert choose_engine("auto", 12, "fp32", "cpu", bflops=0.0254) == "numpy"
    assert choose_engine("auto", 5, "fp32", "cpu", bflops=29.4) == "torch"
    assert choose_engine("auto", 12, "bf16", "cpu", bflops=0.0254) == "torch"
    assert choose_engine("torch", 1, "fp32", "cpu") == "torch"
    assert choose_engine("numpy", 9, "bf16", None) == "numpy"


def test_bad_engine_is_a_usage_error(tmp_path):
    r = _run(["detect", str(ROOT / "data" / "dog.jpg"), *DEMO, "--engine", "onnx"], tmp_path)
    assert r.returncode == 2 and "--engine must be" in r.stderr
