"""ONNX export: onnxruntime gives PyTorch's outputs (reorg, tree softmax and yolo included)."""
from __future__ import annotations

import pytest
import torch

import darkpy
from darkpy.net.inference import forward_detections

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from darkpy.net.export import export_onnx, run_onnx  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name,dynamic", [("g_yolov2_mini", True), ("g_tree_mini", False),
                                          ("g_yolov3_mini", False)])
def test_onnx_matches_pytorch(golden, tmp_path, name, dynamic):
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", golden / "forward" / name / "weights",
                              device="cpu")
    path = export_onnx(net, tmp_path / "m.onnx", dynamic=dynamic)
    sizes = [net.net.width, net.net.width + 32] if dynamic else [net.net.width]
    for s in sizes:
        x = torch.rand(2 if dynamic else 1, 3, s, s, generator=torch.Generator().manual_seed(s))
        net.resize(s, s)
        with torch.no_grad():
            ref = forward_detections(net, x)
        got = run_onnx(path, x)
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.shape == tuple(r.shape)
            assert abs(g - r.numpy()).max() <= 1e-4 * max(1.0, r.abs().max().item())


@pytest.mark.slow
def test_export_cli(golden, tmp_path, cli):
    name = "g_tiny_mini"
    cfg, weights = golden / "cfg" / f"{name}.cfg", golden / "forward" / name / "weights"
    code, out, err = cli("export", "onnx", cfg, weights, tmp_path / "t.onnx")
    assert code == 0, out + err
    assert "max abs difference" in out and (tmp_path / "t.onnx").exists()
    code, out, err = cli("export", "onnx", cfg, weights, tmp_path / "t.onnx", "--size", "50")
    assert code == 2
