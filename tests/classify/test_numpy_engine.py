"""`classifier predict` on the torch-free engine: picked by detect's rule (`--engine`), the same
lines as the torch engine, and torch never imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import darkpy

ROOT = Path(__file__).resolve().parents[2]
# what was imported, told by an atexit handler: `darkpy` leaves through os._exit once torch is
# loaded (darkpy.cli.process_exit), running the handlers first
PROBE = ("import atexit, runpy, sys; sys.argv = ['darkpy'] + sys.argv[1:]\n"
         "atexit.register(lambda: print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr))\n"
         "runpy.run_module('darkpy', run_name='__main__')\n")


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _weights(cfg: Path, out: Path, seed: int = 5) -> Path:
    """Random weights whose classes lie well apart (near-ties would be ordered by float noise)."""
    net = darkpy.load_network(cfg, device="cpu", seed=seed)
    last = [l for l in net.layers if l.section_name == "convolutional"][-1]
    with torch.no_grad():
        n = last.bias.numel()
        last.bias.copy_(torch.randperm(n, generator=torch.Generator().manual_seed(seed)).float() * (4.0 / n))
        last.weight.mul_(0.05)
    return net.save_weights(out)


def test_predict_takes_numpy_and_prints_what_torch_prints(tmp_path, color_set, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier")
    weights = _weights(cfg, tmp_path / "t.weights")
    args = ["classifier", "predict", color_set["data"], cfg, weights, *color_set["valid"][:3], "--top", "3"]
    fast = _run(args, tmp_path)
    assert fast.returncode == 0, fast.stderr
    assert "NO-TORCH" in fast.stderr
    slow = _run([*args, "--engine", "torch"], tmp_path)
    assert slow.returncode == 0, slow.stderr
    assert "NO-TORCH" not in slow.stderr
    assert fast.stdout == slow.stdout
    lines = fast.stdout.splitlines()
    assert lines[0] == f"{color_set['valid'][0]}:" and len(lines) == 3 * 4
    assert lines[1].startswith("  ") and lines[1].endswith(("red", "green", "blue", "yellow"))


def test_wordtree_predict_and_walks_equal_the_torch_engine(tmp_path, golden):
    from cls_helpers import COLORS, draw, mini_tree_classifier
    import cv2

    cfg = mini_tree_classifier(tmp_path, golden)
    data = tmp_path / "tree.data"
    data.write_text(f"classes=9\nnames={tmp_path / 'mini.names'}\ntop=4\n")
    weights = _weights(cfg, tmp_path / "tree.weights")
    rng = np.random.default_rng(0)
    images = []
    for i, color in enumerate(COLORS.values()):
        images.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(images[-1]), draw("disc", color, 24, rng))
    for walk in ("darknet", "paper"):
        args = ["classifier", "predict", data, cfg, weights, *images, "--hier-walk", walk, "--hier-thresh", "0.3"]
        fast, slow = _run(args, tmp_path), _run([*args, "--engine", "torch"], tmp_path)
        assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr
        assert "NO-TORCH" in fast.stderr and "NO-TORCH" not in slow.stderr
        assert fast.stdout == slow.stdout
        assert f"{walk} walk: " in fast.stdout


def test_engine_choice_and_errors(cli, tmp_path, color_set, tiny_cfg, golden):
    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier")
    weights = _weights(cfg, tmp_path / "t.weights")
    code, _, err = cli("classifier", "predict", color_set["data"], cfg, weights, color_set["valid"][0],
                       "--engine", "onnx")
    assert code == 2 and "--engine must be one of auto, torch, numpy" in err
    code, _, err = cli("classifier", "predict", color_set["data"], cfg, weights, color_set["valid"][0],
                       "--engine", "numpy", "--device", "cuda")
    assert code == 2 and "--engine numpy runs on the CPU only" in err
    # a layer the numpy engine lacks: torch runs it, saying so when numpy was asked for
    gelu = tmp_path / "gelu.cfg"
    gelu.write_text(cfg.read_text().replace("activation=leaky", "activation=gelu", 1))
    code, out, err = cli("classifier", "predict", color_set["data"], gelu, weights, color_set["valid"][0],
                         "--engine", "numpy")
    assert code == 0, err
    assert "numpy engine does not run this network" in err and "activation gelu" in err
    assert out.splitlines()[0] == f"{color_set['valid'][0]}:"


def test_the_engine_rule_weighs_classifier_work(monkeypatch):
    from darkpy.detect.numpy_engine import choose_engine, spec_bflops
    from darkpy.net.spec import read_spec

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    bflops = spec_bflops(read_spec(ROOT / "cfg" / "darknet19.cfg"))
    assert 7 < bflops < 7.5   # Darknet-19 at 256: 16 images are at most 4 yolov2-voc images' work
    assert choose_engine("auto", 16, "fp32", None, bflops=bflops) == "numpy"
    assert choose_engine("auto", 17, "fp32", None, bflops=bflops) == "torch"


def test_validate_modes_count_the_same_on_both_engines(tmp_path, color_set, tiny_cfg):
    from darkpy.classify.labels import read_classifier_data
    from darkpy.classify.validate import validate
    from darkpy.net.numpy_forward import NumpyNetwork

    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier")
    weights = _weights(cfg, tmp_path / "t.weights")
    items = read_classifier_data(color_set["data"]).split("valid")
    torch_net = darkpy.load_network(cfg, weights, device="cpu")
    numpy_net = NumpyNetwork.load(cfg, weights, classifier=True)
    for mode in ("center", "resize", "ten", "multi"):
        a, b = (validate(net, items, 2, mode=mode, scales=(32, 40), batch=5, threads=2, progress=False)
                for net in (torch_net, numpy_net))
        assert (a.count, a.top1, a.topk) == (b.count, b.top1, b.topk), mode
        assert (a.confusion == b.confusion).all(), mode
    assert (numpy_net.width, numpy_net.height) == (32, 32)   # multi resized it back


def test_valid_on_a_few_images_runs_without_torch(tmp_path, color_set, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier")
    weights = _weights(cfg, tmp_path / "t.weights")
    args = ["classifier", "valid", color_set["data"], cfg, weights, "--show", "2"]
    fast, slow = _run(args, tmp_path), _run([*args, "--engine", "torch"], tmp_path)
    assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr
    assert "NO-TORCH" in fast.stderr and "NO-TORCH" not in slow.stderr
    assert fast.stdout == slow.stdout
    assert "images: top 1: " in fast.stdout
