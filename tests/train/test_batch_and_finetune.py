"""Training batch sizes as Darknet's cfgs intend them, `--batch/--subdivisions`, the batch=1 warning,
fine-tuning from a finished file (`--clear`) and what `-q` keeps."""
from __future__ import annotations

import re

import numpy as np
import pytest

from darkpy.data.synth import generate
from darkpy.net.model import parse_network

TRAINING_CFGS = {"yolov2-voc": (64, 8), "yolov2": (64, 8), "yolo9000": (64, 8), "yolov2-tiny-voc": (64, 2),
                 "yolov2-tiny": (64, 2), "yolov3-tiny": (64, 2), "yolov3-voc": (64, 16), "yolov3": (64, 16),
                 "darknet19": (128, 2), "darknet19_448": (128, 4), "darknet9000": (128, 4),
                 "darknet53": (128, 4), "extraction": (128, 4), "tiny": (128, 1)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tiny_cfg):
    root = tmp_path_factory.mktemp("bf")
    data = generate(root / "set", images=6, classes=3, size=64, seed=0)
    cfg = tiny_cfg(root / "tiny.cfg", region=dict(random=0))
    return data, cfg


def _seen(path) -> int:
    return int(np.frombuffer(path.read_bytes()[12:20], dtype=np.int64)[0])


def test_shipped_training_cfgs_have_training_batches(repo):
    for name, (batch, subdivisions) in TRAINING_CFGS.items():
        net = parse_network(repo / "cfg" / f"{name}.cfg").net
        assert (net.batch, net.subdivisions) == (batch, subdivisions), name
    # the first values under [net] are the training ones (what `grep -A4 '^\[net\]'` shows)
    lines = (repo / "cfg" / "yolov2-voc.cfg").read_text().splitlines()
    start = lines.index("[net]")
    active = [l for l in lines[start + 1:start + 5] if l and not l.startswith("#")]
    assert active == ["batch=64", "subdivisions=8"]
    assert "# batch=1" in lines[start + 1:start + 8]


def test_batch_1_warns_with_the_cfg_line(cli, dataset, tmp_path, tiny_cfg):
    data, _ = dataset
    cfg = tmp_path / "one.cfg"
    tiny_cfg(cfg, batch=1, subdivisions=1, region=dict(random=0))
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", "0", "--backup", tmp_path)
    assert code == 0, err
    assert f"{cfg}:2: batch=1 trains on one image per step" in out
    # an explicit --batch is a choice: no warning
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", "0", "--backup", tmp_path,
                         "--batch", "1", "--name", "b1")
    assert code == 0, err
    assert "batch=1 trains" not in out


def test_batch_and_subdivisions_override(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "2", "--workers", "0", "--backup", tmp_path,
                         "--batch", "2", "--subdivisions", "1")
    assert code == 0, err
    assert "batch 2 = 1 process(es) x 2 images in mini-batches of 2" in out
    assert _seen(tmp_path / "tiny_final.weights") == 2 * 2
    code, _, err = cli("train", cfg, "--data", data, "--batch", "2", "--subdivisions", "4")
    assert code == 2 and "subdivisions=4 is larger than batch=2" in err
    code, _, err = cli("train", cfg, "--data", data, "--batch", "0")
    assert code == 2 and "--batch must be at least 1" in err


def test_finished_weights_do_not_retrain_silently(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "2", "--workers", "0", "--backup", tmp_path)
    assert code == 0, err
    final = tmp_path / "tiny_final.weights"
    trained = tmp_path / "trained.weights"
    trained.write_bytes(final.read_bytes())
    before = final.read_bytes()
    code, out, err = cli("train", cfg, "--data", data, "--weights", trained, "--max-batches", "2", "--workers", "0",
                         "--backup", tmp_path)
    assert code == 2
    assert "seen 8 images = batch 2, already at max_batches=2: nothing to train" in err and "--clear" in err
    assert final.read_bytes() == before   # not overwritten by a copy of the input
    code, out, err = cli("detector", "train", data, cfg, trained, "-clear", "--max-batches", "2", "--workers", "0")
    assert code == 0, err
    assert "batches 0..2" in out


def test_quiet_keeps_header_and_saved_lines(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "2", "--workers", "0", "--backup", tmp_path,
                         "-q", "--map", "--map-every", "1")
    assert code == 0, err
    assert "Learning Rate:" in out and "training images" in out
    assert "mAP@0.50" in out
    assert re.search(r"Saved .*tiny_final.weights after 2 batches", out)
    assert not re.search(r"^\d+: ", out, re.M)          # no per-batch lines


def test_multiscale_training_uses_darknet_sizes(cli, tmp_path, tiny_cfg):
    """random=1 on a 64x64 cfg trains at Darknet's 320..608 (the progress line shows the size); the
    last 200 batches are at 608."""
    data = generate(tmp_path / "set", images=4, classes=3, size=64, seed=0)
    cfg = tmp_path / "ms.cfg"
    tiny_cfg(cfg)                        # random=1, max_batches=100: all in the last 200
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", "0", "--backup",
                         tmp_path / "b", "--batch", "2", "--subdivisions", "2")
    assert code == 0, err
    assert re.search(r"^1: .*, 608x608, ", out, re.M)
