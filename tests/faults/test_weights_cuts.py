"""A weights file cut at every layer boundary (and anywhere else) is never taken silently by the
commands that need every layer; train and partial take it and say how much they loaded."""
from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

import darkpy
from darkpy.errors import WeightsError
from darkpy.net.model import parse_network
from tests.faults.fuzz import Tally

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CFG = GOLDEN / "cfg" / "g_yolov2_mini.cfg"
WEIGHTS = GOLDEN / "forward" / "g_yolov2_mini" / "weights"


def boundaries(cfg: Path) -> list[int]:
    """Byte offsets where a layer's floats end (header end first)."""
    net = parse_network(cfg)
    ends = [20]
    for layer in net.layers:
        if layer.has_weights:
            ends.append(ends[-1] + 4 * layer.num_weight_floats())
    return ends


def cuts(tmp_path: Path) -> list[tuple[int, Path]]:
    raw = WEIGHTS.read_bytes()
    ends = boundaries(CFG)
    assert ends[-1] == len(raw)
    out = []
    for k, end in enumerate(ends[:-1]):
        p = tmp_path / f"cut{k}.weights"
        p.write_bytes(raw[:end])
        out.append((k, p))
    return out


def test_every_layer_boundary_cut_is_refused_by_detect(tmp_path, cli):
    import cv2
    import numpy as np

    img = tmp_path / "img.jpg"
    cv2.imwrite(str(img), np.full((64, 64, 3), 128, np.uint8))
    total = len(boundaries(CFG)) - 1
    for k, cut in cuts(tmp_path):
        code, out, err = cli("detect", img, "--cfg", CFG, "--weights", cut, "--out", tmp_path / "o.jpg")
        assert code == 2, (k, out, err)
        assert f"holds {k} of {total} layers" in err and str(cut) in err and "\n" not in err.strip()
    assert not (tmp_path / "o.jpg").exists()


def test_summary_reports_a_header_only_file(tmp_path, cli):
    head = tmp_path / "head.weights"
    head.write_bytes(WEIGHTS.read_bytes()[:20])
    total = len(boundaries(CFG)) - 1
    code, out, err = cli("summary", CFG, "--weights", head)
    assert code == 2 and f"holds 0 of {total} layers" in err


def test_commands_needing_every_layer_refuse_a_cut(tmp_path, cli):
    from tests.eval.netdata import make_valid_set

    s = make_valid_set(tmp_path / "set")
    raw = s["weights"].read_bytes()
    ends = boundaries(s["cfg"])
    cut = tmp_path / "cut.weights"
    cut.write_bytes(raw[:ends[-2]])  # the last layer missing
    for args in (("valid", s["data"], s["cfg"], cut, "--workers", "0"),
                 ("map", s["data"], s["cfg"], cut, "--workers", "0"),
                 ("recall", s["data"], s["cfg"], cut, "--workers", "0"),
                 ("export", "onnx", s["cfg"], cut, tmp_path / "x.onnx", "--no-check"),
                 ("benchmark", s["cfg"], "--weights", cut)):
        code, out, err = cli(*args)
        assert code == 2 and f"holds {len(ends) - 2} of {len(ends) - 1} layers" in err, (args, code, out, err)


def test_train_and_partial_accept_a_cut_and_print_the_count(tmp_path):
    net = darkpy.load_network(CFG, cuts(tmp_path)[2][1], allow_partial=True)
    assert net.last_load.layers_loaded == 2 and "partial: loaded 2 of" in str(net.last_load)


def test_weights_fuzz_never_a_traceback(tmp_path):
    """Seeded: cut anywhere, flip header fields, append bytes; each load is clean or a one-liner."""
    rng = random.Random(14)
    raw = WEIGHTS.read_bytes()
    tally = Tally()
    for k in range(94):
        data = bytearray(raw)
        kind = k % 4
        if kind == 0:
            data = data[:rng.randrange(len(raw))]
        elif kind == 1:
            field = rng.randrange(4)
            value = rng.choice([-1, 0, 1, 2, 1000, 1001, 2 ** 31 - 1, -2 ** 31])
            struct.pack_into("<i", data, 4 * field, value)
        elif kind == 2:
            data += bytes(rng.randrange(1, 9))
        else:
            struct.pack_into("<q", data, 12, rng.choice([-5, 2 ** 53 + 1, 2 ** 62, -2 ** 63]))
        p = tmp_path / f"f{k}.weights"
        p.write_bytes(bytes(data))
        outcome = tally.run(f"#{k} kind {kind}", lambda: darkpy.load_network(CFG, p))
        if kind in (0, 2, 3):  # these never fit the cfg
            assert outcome == "clean", (k, kind)
    assert not tally.tracebacks, tally.tracebacks[:3]


def test_a_cut_inside_a_layer_names_the_layer(tmp_path):
    ends = boundaries(CFG)
    p = tmp_path / "mid.weights"
    p.write_bytes(WEIGHTS.read_bytes()[:ends[2] + 8])
    with pytest.raises(WeightsError, match=r"truncated: layer \d+ \(convolutional\)"):
        darkpy.load_network(CFG, p, allow_partial=True)
