"""cfg mutants (seeded, from the shipped and golden cfgs): each one builds or is one line, never a
traceback or an out-of-memory attempt; specific bad values name their file and line."""
from __future__ import annotations

import time

import pytest

from darkpy.errors import CfgError
from darkpy.net.model import parse_network
from darkpy.net.spec import check_fits
from tests.faults.fuzz import SOURCES, build_and_run, fuzz_cfgs

BASE = """[net]
batch=1
width=64
height=64
channels=3

[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2
"""


def test_500_cfg_mutants_end_cleanly():
    t0 = time.perf_counter()
    tally = fuzz_cfgs(520, seed=14)
    assert tally.tried >= 500 and not tally.tracebacks, "\n".join(tally.tracebacks[:5])
    assert tally.clean > 200 and tally.ok > 20  # both outcomes are exercised
    assert len(SOURCES) >= 20
    print(f"{tally.tried} mutants: {tally.ok} build, {tally.clean} one-line errors, "
          f"{len(tally.tracebacks)} tracebacks in {time.perf_counter() - t0:.1f} s")


@pytest.mark.parametrize("line, value, message", [
    (5, "-3", "'channels' must be at least 0"),
    (8, "0", "'filters' must be at least 1"),
    (8, "-16", "'filters' must be at least 1"),
    (9, "0", "'size' must be at least 1"),
    (9, "100000", "'size' must be at most 4096"),
    (10, "-2", "'stride' must be at least 1"),
    (8, "1_000", "'filters' must be an integer, got '1_000'"),
    (8, "\u0661\u0666", "'filters' must be an integer"),
    (8, "\uff18", "'filters' must be an integer"),
    (8, "99999999999", "'filters' must be an integer"),
    (3, "nan", "'width' must be an integer"),
    (8, "3e2", "'filters' must be an integer"),
    (8, "16.5", "'filters' must be an integer"),
])
def test_bad_values_are_one_line_with_file_and_line(tmp_path, line, value, message):
    lines = BASE.splitlines()
    key = lines[line - 1].split("=")[0]
    lines[line - 1] = f"{key}={value}"
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    with pytest.raises(CfgError) as err:
        parse_network(cfg)
    text = str(err.value)
    assert text.startswith(f"{cfg}:{line}: ") and message in text and "\n" not in text


def test_integers_written_as_n_point_zero_are_accepted(tmp_path):
    cfg = tmp_path / "ok.cfg"
    cfg.write_text(BASE.replace("filters=8", "filters=8.0").replace("size=3", "size=+3"))
    net = parse_network(cfg)
    assert net.layers[0].filters == 8 and net.layers[0].size == 3


@pytest.mark.parametrize("key, value", [("learning_rate", "nan"), ("momentum", "inf"), ("decay", "-inf"),
                                        ("learning_rate", "1e39"), ("learning_rate", "-0.1")])
def test_rates_must_be_finite_and_not_negative(tmp_path, key, value):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(BASE.replace("[net]\n", f"[net]\n{key}={value}\n"))
    with pytest.raises(CfgError, match=rf"bad.cfg:2: .*'{key}'"):
        parse_network(cfg)


def test_network_too_large_for_memory_is_refused_with_the_figure(tmp_path):
    cfg = tmp_path / "huge.cfg"
    cfg.write_text(BASE.replace("filters=8", "filters=2000000000"))
    with pytest.raises(CfgError, match=r"huge.cfg:7: the network needs [\d,.]+ GB for its [\d,]+ parameters"):
        parse_network(cfg)
    big = tmp_path / "wide.cfg"
    big.write_text(BASE.replace("width=64", "width=2000000000").replace("height=64", "height=2000000"))
    with pytest.raises(CfgError, match="activations for one image"):
        parse_network(big)
    net = parse_network(BASE)
    with pytest.raises(CfgError, match="more than the 0.0 GB"):
        check_fits(net.layers, memory=1000)


def test_map_and_tree_must_be_files_of_numbers(tmp_path):
    src = (SOURCES[0].parent.parent / "tests" / "golden" / "cfg" / "r_voc.cfg")
    text = src.read_text() if src.exists() else None
    if text is None:
        pytest.skip("golden r_voc.cfg missing")
    (tmp_path / "adir").mkdir()
    (tmp_path / "words.map").write_text("1\n2\nthree\n")
    for extra, message in ((f"map={tmp_path / 'adir'}", "is not a file"),
                           (f"map={tmp_path / 'words.map'}", "must hold integers"),
                           (f"tree={tmp_path / 'adir'}", "is not a file")):
        cfg = tmp_path / "m.cfg"
        cfg.write_text(text.replace("[region]\n", f"[region]\n{extra}\n", 1))
        with pytest.raises(CfgError, match=message):
            build_and_run(cfg.read_text(), cfg)
