"""`darkpy detect --map`: a WordTree network reporting chosen tree nodes as its classes."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import torch

import darkpy
from darkpy.detect.decode import decode_mapped


def _tree_net(golden, tmp_path):
    for name in ("g_tree_mini.cfg", "mini.tree"):
        shutil.copy(golden / "cfg" / name, tmp_path / name)
    return tmp_path / "g_tree_mini.cfg", golden / "forward" / "g_tree_mini" / "weights"


def test_detect_with_map_reports_mapped_nodes_as_classes(cli, golden, tmp_path):
    cfg, weights = _tree_net(golden, tmp_path)
    (tmp_path / "nodes.map").write_text("3\n5\n8\n")
    (tmp_path / "three.names").write_text("cat\ndog\nbird\n")
    img = tmp_path / "scene.png"
    cv2.imwrite(str(img), (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8))
    code, out, err = cli("detect", img, "--cfg", cfg, "--weights", weights, "--map", tmp_path / "nodes.map",
                         "--names", tmp_path / "three.names", "--thresh", "0.001", "--json", "--no-save")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["detections"], "a random tree net at thresh .001 finds boxes"
    assert {d["class"] for d in result["detections"]} <= {"cat", "dog", "bird"}

    # the probabilities are objectness x absolute tree probability of the mapped node
    net = darkpy.load_network(cfg, weights, device="cpu")
    x = torch.from_numpy(np.fromfile(golden / "forward" / "g_tree_mini" / "input.f32", np.float32))
    x = x.reshape(1, *net.input_shape)
    with torch.no_grad():
        out_t = net(x)
    raw = decode_mapped(net.detection_layers, [out_t], net.net.width, net.net.height, [(64, 48)], 0.0, [3, 5, 8])[0]
    assert raw.probs.shape[1] == 3


def test_map_on_a_plain_network_is_a_usage_error(cli, golden, tmp_path):
    (tmp_path / "m.map").write_text("1\n")
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    code, _, err = cli("detect", img, "--cfg", golden / "cfg" / "g_yolov2_mini.cfg",
                       "--weights", golden / "forward" / "g_yolov2_mini" / "weights", "--map", tmp_path / "m.map",
                       "--no-save")
    assert code == 2 and "WordTree" in err
