"""The layer-spec stage (darkpy.net.spec): one torch-free description that the torch builder, the
numpy engine, `summary`, kmeans and the weights plan all read."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darkpy.errors import CfgError, WeightsError
from darkpy.net.spec import ConvSpec, RegionSpec, read_spec

ROOT = Path(__file__).resolve().parents[2]
CFGS = ["yolov2-voc", "yolov2-tiny-voc", "yolo9000", "yolov3", "darknet19", "demo", "darknet19_1k_tree"]


def test_the_spec_stage_does_not_import_torch():
    code = ("import sys; from darkpy.net.spec import read_spec; from darkpy.anchors.cfgedit import region_stride, "
            "read_cfg_text; s = read_spec('cfg/yolov2-voc.cfg'); assert s.num_weight_floats() == 50676061; "
            "assert region_stride(read_cfg_text('cfg/demo.cfg')) == 16; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("name", CFGS)
def test_the_torch_network_is_built_from_the_spec(name):
    import darkpy.net.model

    spec = read_spec(ROOT / "cfg" / f"{name}.cfg", 64 if name != "darknet19_1k_tree" else None)
    net = darkpy.net.model.network_from_spec(spec)
    assert net.spec.layers == spec.layers  # the same objects: resizing one resizes the other
    for layer, s in zip(net.layers, spec.layers):
        assert (layer.in_shape, layer.out_shape) == (s.in_shape, s.out_shape)
        tensors = sum(p.numel() for p in layer.parameters()) + sum(
            b.numel() for n, b in layer.named_buffers() if n.startswith("rolling"))
        assert tensors == s.num_weight_floats(), s.index


def test_weight_layout_is_darknets_file_order():
    spec = read_spec(ROOT / "cfg" / "yolov2-voc.cfg")
    conv = spec.layers[0]
    assert isinstance(conv, ConvSpec)
    assert conv.weight_layout() == [("biases", (32,)), ("scales", (32,)), ("rolling mean", (32,)),
                                    ("rolling variance", (32,)), ("weights", (32, 3, 3, 3))]
    head = spec.layers[30]
    assert [n for n, _ in head.weight_layout()] == ["biases", "weights"] and head.num_weight_floats() == 125 * 1025
    region = spec.layers[31]
    assert isinstance(region, RegionSpec) and region.coord_scale == 1 and region.anchors[:2] == [1.3221, 1.73145]


def test_resize_goes_through_every_layer():
    spec = read_spec(ROOT / "cfg" / "yolov2-voc.cfg")
    spec.resize(608)
    assert spec.layers[-1].out_shape == (125, 19, 19) and spec.region_stride() == 32
    with pytest.raises(CfgError, match="cannot take input"):
        spec.resize(1)


def test_cfg_errors_come_from_the_spec_stage(tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=8\nsize=3\nfoo=1\n")
    with pytest.raises(CfgError, match="unknown key 'foo'") as err:
        read_spec(bad)
    assert err.value.line == 8


def _with_seen(src: Path, dst: Path, seen: int) -> Path:
    raw = bytearray(src.read_bytes())
    raw[12:20] = int(seen).to_bytes(8, "little", signed=True)
    dst.write_bytes(bytes(raw))
    return dst


def test_both_engines_refuse_a_negative_seen(tmp_path):
    import darkpy
    from darkpy.net.numpy_forward import NumpyNetwork

    weights = _with_seen(ROOT / "data" / "demo" / "demo.weights", tmp_path / "w.weights", -1)
    with pytest.raises(WeightsError, match="seen=-1"):
        NumpyNetwork.load(ROOT / "cfg" / "demo.cfg", weights)
    with pytest.raises(WeightsError, match="seen=-1"):
        darkpy.load_network(ROOT / "cfg" / "demo.cfg", weights, device="cpu")


def test_both_engines_refuse_a_short_file_with_one_message(tmp_path):
    import darkpy
    from darkpy.net.numpy_forward import NumpyNetwork

    short = tmp_path / "short.weights"
    short.write_bytes((ROOT / "data" / "demo" / "demo.weights").read_bytes()[:-8])
    messages = []
    for load in (lambda: NumpyNetwork.load(ROOT / "cfg" / "demo.cfg", short),
                 lambda: darkpy.load_network(ROOT / "cfg" / "demo.cfg", short, device="cpu")):
        with pytest.raises(WeightsError) as err:
            load()
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "truncated" in messages[0]


def test_the_numpy_engine_keeps_the_weights_mapped():
    from darkpy.net.numpy_forward import NumpyNetwork

    net = NumpyNetwork.load(ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights")
    conv = net.layers[0]
    assert isinstance(conv.weight.base, np.memmap) or isinstance(getattr(conv.weight.base, "base", None), np.memmap)
