"""The bundled demo detector (cfg/demo.cfg + data/demo/demo.weights) finds the shapes in the
12 held-out images shipped beside it (data/demo/images, labels in data/demo/labels).

Measured when it was trained (recipe in docs/train.md): mAP@0.5 0.890 on these 12 images, 0.806 on the
400 validation images of its generated set; an untrained network of the same cfg scores about
0.005. Scored here with darkpy's own evaluator (letterboxed as `darkpy valid`/`map` run it, VOC
area AP). Asserting 0.7 leaves room for float differences between machines.
"""
from __future__ import annotations

from darkpy.formats.datafile import read_names
from darkpy.train.map_hook import MapEvaluator
from darkpy.net.model import load_network


def test_demo_model_detects_its_shapes(repo, monkeypatch):
    monkeypatch.chdir(repo)
    net = load_network(repo / "cfg" / "demo.cfg", repo / "data" / "demo" / "demo.weights", device="cpu")
    assert net.seen == 1000 * 32 and not net.last_load.partial
    assert len(read_names(repo / "data" / "demo" / "demo.names")) == net.detection_layers[-1].classes
    evaluator = MapEvaluator(repo / "data" / "demo" / "demo.data")
    assert len(evaluator.truth.images) == 12 and len(evaluator.truth.cls) == 26
    value, report = evaluator.score(net)
    assert value > 0.7, f"mAP {value:.3f}"


def test_detect_uses_the_bundled_model_by_default(cli, repo, tmp_path):
    code, out, err = cli("detect", repo / "data" / "demo" / "images" / "001990.jpg", "--out", tmp_path / "p.jpg")
    assert code == 0, err
    assert "circle" in out or "square" in out or "triangle" in out
