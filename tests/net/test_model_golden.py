"""darkpy's forward pass against outputs of the real Darknet binary (tests/golden/README.md)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import darkpy

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
FORWARD = sorted(p.name for p in (GOLDEN / "forward").iterdir())


def _case(name: str) -> tuple[Path, Path]:
    if name == "real_prefix":
        return GOLDEN / "real_prefix" / "yolov2-first10.cfg", GOLDEN / "real_prefix"
    return GOLDEN / "cfg" / f"{name}.cfg", GOLDEN / "forward" / name


@pytest.mark.golden
@pytest.mark.parametrize("name", FORWARD + ["real_prefix"])
def test_every_layer_output_matches_darknet(name):
    cfg, folder = _case(name)
    net = darkpy.load_network(cfg, folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    with torch.no_grad():
        outs = net.forward_all(x)
    files = sorted(folder.glob("layer*.f32"))
    assert files
    for f in files:
        i = int(f.stem[5:])
        ref = np.fromfile(f, np.float32)
        got = outs[i].numpy().ravel()
        assert got.size == ref.size, f"layer {i}: {got.size} values, Darknet has {ref.size}"
        err = np.abs(got - ref).max()
        assert err <= 1e-4 * np.abs(ref).max(), f"layer {i} ({net.layers[i].section_name}): max abs error {err}"
    last = outs[net.output_index]
    assert torch.equal(net(x), last)


@pytest.mark.golden
@pytest.mark.parametrize("name", FORWARD)
def test_layer_shapes_and_bflops_match_darknet_table(name):
    cfg, folder = _case(name)
    net = darkpy.load_network(cfg, device="cpu")
    lines = (folder / "layers.txt").read_text().split("\n")
    rows = [dict(kv.split("=") for kv in line.split()[2:]) for line in lines if line.strip()]
    assert len(rows) == len(net.layers)
    for layer, row in zip(net.layers, rows):
        c, h, w = layer.out_shape
        assert c * h * w == int(row["outputs"]), layer.index
        if int(row["out_c"]):  # Darknet leaves c/h/w at 0 for softmax and cost layers
            assert layer.out_shape == (int(row["out_c"]), int(row["out_h"]), int(row["out_w"])), layer.index
        if layer.section_name == "convolutional":  # Darknet counts BFLOPs for convolutions only
            assert abs(layer.bflops - float(row["bflops"])) < 1e-6


TABLE_ROW = re.compile(r"^\s*(\d+)\s+conv\s+(\d+).*->\s+(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s+([\d.]+) BFLOPs")


@pytest.mark.golden
@pytest.mark.parametrize("table", sorted((GOLDEN / "darknet_tables").glob("*.txt")), ids=lambda p: p.stem)
def test_reference_cfgs_build_with_darknets_bflops(table, repo):
    cfg = repo / "cfg" / f"{table.stem}.cfg"
    if "9000" in table.stem and not (repo / "data" / "9k.tree").exists():
        with pytest.raises(darkpy.errors.CfgError, match="9k.tree"):
            darkpy.net.model.parse_network(cfg)
        return
    net = darkpy.net.model.parse_network(cfg)
    checked = 0
    for line in table.read_text().splitlines():
        m = TABLE_ROW.match(line)
        if not m:
            continue
        i, filters, oh, ow, oc, bflops = m.groups()
        layer = net.layers[int(i)]
        assert layer.section_name == "convolutional"
        assert layer.out_shape == (int(oc), int(oh), int(ow))
        assert abs(layer.bflops - float(bflops)) <= 0.01, f"layer {i}"
        checked += 1
    assert checked > 5
