from __future__ import annotations

import numpy as np
import pytest

import darkpy
from darkpy.net.model import parse_network
from darkpy.errors import UsageError, WeightsError
from darkpy.net.partial import write_partial
from darkpy.net.weights import WeightsHeader

CLASSIFIER = """[net]
batch=1
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=5
size=1
stride=1
pad=1
activation=linear

[avgpool]

[softmax]
"""

DETECTOR = """[net]
batch=1
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=32
size=3
stride=1
pad=1
activation=leaky

[convolutional]
filters=30
size=1
stride=1
pad=1
activation=linear

[region]
anchors=1,1,2,2,3,3,4,4,5,5
classes=1
coords=4
num=5
softmax=1
"""


@pytest.fixture
def full(tmp_path):
    cfg = tmp_path / "cls.cfg"
    cfg.write_text(CLASSIFIER)
    net = darkpy.load_network(cfg, device="cpu", seed=3)
    net.header = WeightsHeader(0, 2, 0, 123456)
    weights = net.save_weights(tmp_path / "cls.weights")
    return cfg, weights


def test_partial_is_the_leading_bytes_with_a_cleared_header(tmp_path, full):
    cfg, weights = full
    out = tmp_path / "cls.conv.3"
    report = write_partial(cfg, weights, out, 3)
    assert (report.upto, report.weighted) == (3, 2)
    a, b = weights.read_bytes(), out.read_bytes()
    assert WeightsHeader.unpack(b[:20], out) == WeightsHeader(0, 2, 0, 0)
    assert b[20:] == a[20:len(b)]
    assert len(b) - 20 == 4 * report.floats
    keep = write_partial(cfg, weights, tmp_path / "k", 3, keep_seen=True)
    assert keep.seen == 123456


def test_partial_loads_exactly_those_layers_into_a_detector(tmp_path, full):
    cfg, weights = full
    out = tmp_path / "cls.conv.3"
    write_partial(cfg, weights, out, 3)
    det = tmp_path / "det.cfg"
    det.write_text(DETECTOR)
    net = darkpy.load_network(det, out, device="cpu", allow_partial=True)
    rep = net.last_load
    assert (rep.layers_loaded, rep.last_layer_index, rep.partial) == (2, 2, True)
    assert "partial: loaded 2 of 4 layers" in str(rep)
    src = darkpy.load_network(cfg, weights, device="cpu")
    for i in (0, 2):
        np.testing.assert_array_equal(net.layers[i].weight.detach().numpy(),
                                      src.layers[i].weight.detach().numpy())


def test_partial_errors(tmp_path, full):
    cfg, weights = full
    with pytest.raises(UsageError):
        write_partial(cfg, weights, tmp_path / "x", -1)
    short = tmp_path / "short"
    write_partial(cfg, weights, short, 1)
    with pytest.raises(WeightsError, match="holds weights for 1 layers only"):
        write_partial(cfg, short, tmp_path / "y", 4)
    everything = write_partial(cfg, weights, tmp_path / "all", 99)
    assert everything.upto == 6 and everything.weighted == 3


def test_partial_cli(cli, tmp_path, full):
    cfg, weights = full
    code, out, _ = cli("partial", cfg, weights, tmp_path / "p", 2)
    assert code == 0 and "layers 0-1 of 6 (1 with weights" in out


@pytest.mark.slow
def test_darknet19_448_conv23_into_yolov2_voc(tmp_path, repo):
    """The paper's recipe: darknet19_448.conv.23 initialises YOLOv2's first 23 layers (18 convolutions)."""
    net = parse_network(repo / "cfg/darknet19_448.cfg", size=64)
    net.init_weights(1)
    full = net.save_weights(tmp_path / "darknet19_448.weights")
    rep = write_partial(repo / "cfg/darknet19_448.cfg", full, tmp_path / "darknet19_448.conv.23", 23)
    assert (rep.upto, rep.weighted) == (23, 18)
    det = parse_network(repo / "cfg/yolov2-voc.cfg", size=64)
    det.init_weights(0)
    load = det.load_weights(tmp_path / "darknet19_448.conv.23", allow_partial=True)
    assert (load.layers_loaded, load.last_layer_index) == (18, 22)


def test_detector_training_reports_the_partial_load(cli, tmp_path, full):
    """`darkpy detector train` starts from a partial file and says which layers it loaded."""
    import cv2

    cfg, weights = full
    part = tmp_path / "cls.conv.3"
    write_partial(cfg, weights, part, 3)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    paths = []
    for i in range(2):
        p = tmp_path / "images" / f"{i}.png"
        cv2.imwrite(str(p), np.full((64, 64, 3), 40 * i, np.uint8))
        (tmp_path / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
        paths.append(str(p))
    (tmp_path / "train.txt").write_text("\n".join(paths) + "\n")
    (tmp_path / "det.data").write_text(f"classes=1\ntrain={tmp_path / 'train.txt'}\n"
                                       f"backup={tmp_path / 'backup'}\n")
    det = tmp_path / "det.cfg"
    det.write_text(DETECTOR.replace("batch=1\n", "batch=2\nmax_batches=1\n", 1))
    code, out, err = cli("train", det, "--data", tmp_path / "det.data", "--weights", part, "--workers", "0",
                         "--device", "cpu")
    assert code == 0, err
    assert "partial: loaded 2 of 4 layers with weights (up to layer 2)" in out
