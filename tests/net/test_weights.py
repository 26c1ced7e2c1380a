from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import darkpy
from darkpy.errors import WeightsError
from darkpy.net.weights import WeightsHeader

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = [(GOLDEN / "cfg" / f"{p.name}.cfg", p / "weights") for p in sorted((GOLDEN / "forward").iterdir())]
CASES.append((GOLDEN / "real_prefix" / "yolov2-first10.cfg", GOLDEN / "real_prefix" / "weights"))


@pytest.mark.parametrize("cfg,weights", CASES, ids=lambda p: p.parent.name if p.name == "weights" else p.stem)
def test_read_then_write_is_byte_identical(cfg, weights, tmp_path):
    net = darkpy.load_network(cfg, weights, device="cpu")
    out = net.save_weights(tmp_path / "copy.weights")
    assert out.read_bytes() == weights.read_bytes()


def test_old_header_reads_seen_as_int32():
    net = darkpy.load_network(GOLDEN / "real_prefix" / "yolov2-first10.cfg", GOLDEN / "real_prefix" / "weights")
    assert (net.header.major, net.header.minor) == (0, 1)
    assert not net.header.seen_is_int64
    assert net.seen == 32013312


def test_new_header_uses_int64_seen():
    h = WeightsHeader(0, 2, 0, 2**40)
    assert h.seen_is_int64 and len(h.pack()) == 20
    assert WeightsHeader.unpack(h.pack(), "x").seen == 2**40
    assert not WeightsHeader(0, 1, 0).seen_is_int64
    assert not WeightsHeader(1000, 2, 0).seen_is_int64


def test_darkpy_written_file_reproduces_darknet_outputs(tmp_path):
    cfg, weights = CASES[-2]  # g_yolov3_mini
    name = weights.parent.name
    net = darkpy.load_network(GOLDEN / "cfg" / f"{name}.cfg", weights)
    written = net.save_weights(tmp_path / "w.weights")
    again = darkpy.load_network(GOLDEN / "cfg" / f"{name}.cfg", written)
    c, h, w = again.input_shape
    x = torch.from_numpy(np.fromfile(weights.parent / "input.f32", np.float32).reshape(1, c, h, w))
    ref = np.fromfile(weights.parent / f"layer{again.output_index:02d}.f32", np.float32)
    with torch.no_grad():
        got = again(x).numpy().ravel()
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def test_truncated_file_says_expected_and_found(tmp_path):
    cfg, weights = CASES[0]
    data = weights.read_bytes()
    bad = tmp_path / "short.weights"
    bad.write_bytes(data[: len(data) - 40])
    with pytest.raises(WeightsError) as info:
        darkpy.load_network(cfg, bad)
    msg = str(info.value)
    assert "short.weights" in msg and "truncated" in msg and "floats" in msg
    assert str((len(data) - 20) // 4 - 10) in msg.replace(",", "")


def test_oversized_file_is_an_error(tmp_path):
    cfg, weights = CASES[0]
    bad = tmp_path / "long.weights"
    bad.write_bytes(weights.read_bytes() + struct.pack("<3f", 1, 2, 3))
    with pytest.raises(WeightsError, match="3 floats left over"):
        darkpy.load_network(cfg, bad)


def test_file_with_partial_float_is_an_error(tmp_path):
    cfg, weights = CASES[0]
    bad = tmp_path / "odd.weights"
    bad.write_bytes(weights.read_bytes() + b"\x00")
    with pytest.raises(WeightsError, match="whole number of floats"):
        darkpy.load_network(cfg, bad)


def test_partial_file_loads_leading_layers_and_says_how_many(tmp_path):
    cfg = GOLDEN / "cfg" / "g_yolov2_mini.cfg"
    full = darkpy.load_network(cfg, GOLDEN / "forward" / "g_yolov2_mini" / "weights")
    part = full.save_weights(tmp_path / "mini.conv.7", upto=7)
    net = darkpy.net.model.parse_network(cfg)
    net.init_weights(1)
    report = net.load_weights(part)
    assert report.partial and report.layers_loaded == 4 and report.layers_total == 11
    assert torch.equal(net.layers[4].weight, full.layers[4].weight)
    assert not torch.equal(net.layers[7].weight, full.layers[7].weight)
    assert "loaded 4 of 11" in str(report)


def test_missing_weights_file_is_one_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="nothing.weights"):
        darkpy.load_network(CASES[0][0], tmp_path / "nothing.weights")


class _Payload:
    """Unpickling this object opens (creates) the marker file: proof that a pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payloads_in_weights_or_resume_state_are_never_run(tmp_path):
    import pickle

    from darkpy.train.backup import load_state

    live = tmp_path / "live"
    pickle.loads(pickle.dumps(_Payload(live)))
    assert live.exists(), "the payload works: plain unpickling creates the marker"

    marker = tmp_path / "marker"
    # a resume state (torch.save, i.e. a pickle) carrying the payload
    state = tmp_path / "x.backup.state"
    torch.save({"momentum": [_Payload(marker)]}, state)
    with pytest.raises(Exception):
        load_state(state)
    # a .weights file that is a pickle, and one with a pickle after a valid header
    cfg, weights = CASES[0]
    as_weights = tmp_path / "pickled.weights"
    torch.save(_Payload(marker), as_weights)
    header = weights.read_bytes()[:20]
    spliced = tmp_path / "spliced.weights"
    spliced.write_bytes(header + pickle.dumps(_Payload(marker)))
    for path in (as_weights, spliced):
        try:
            darkpy.load_network(cfg, path, device="cpu")
        except WeightsError:
            pass
    assert not marker.exists(), "a pickle payload was executed"
