"""`darkpy.eval.score.score_valid`, the one scoring path of `valid`, `map DATA CFG WEIGHTS` and
the training hook, called from Python on the hand-weighted detector's valid set (tests/eval/netdata.py)."""
from __future__ import annotations

import pytest

import darkpy
from darkpy.errors import DataError
from darkpy.eval.groundtruth import gt_from_labels
from darkpy.eval.run import valid_setup
from darkpy.eval.score import coco_split_for, map_value, score_valid

from tests.eval.netdata import make_valid_set


@pytest.fixture(scope="module")
def valid_set(tmp_path_factory):
    s = make_valid_set(tmp_path_factory.mktemp("score") / "set")
    return s, darkpy.load_network(s["cfg"], s["weights"], device="cpu")


def test_files_written_and_scored_equal_the_in_memory_score(valid_set, tmp_path):
    s, net = valid_set
    setup = valid_setup(s["data"])
    written = score_valid(setup, net, out=tmp_path / "r", score=True, metric="voc07,voc")
    assert [p.name for p in written.files] == ["comp4_det_test_yellowish.txt", "comp4_det_test_purplish.txt"]
    assert written.folder == tmp_path / "r" and len(written.run.entries) == 4
    # the values netdata.py derives by hand
    assert written.report.map == pytest.approx((2 / 3 + 1) / 2)
    assert written.report.map07 == pytest.approx((7 / 11 + 1) / 2)
    # no folder: nothing written, the same numbers from memory (the training hook's way)
    memory = score_valid(setup, net, score=True, metric="voc07,voc", truth=gt_from_labels(setup.list_path,
                                                                                         setup.names))
    assert memory.files == [] and memory.folder is None
    assert memory.report.to_dict() == written.report.to_dict()
    assert map_value(memory.report, "voc") == pytest.approx(5 / 6)


def test_without_score_only_the_run_and_the_files(valid_set, tmp_path):
    s, net = valid_set
    scored = score_valid(valid_setup(s["data"]), net, out=tmp_path / "r")
    assert scored.report is None and scored.truth is None and len(scored.files) == 2
    assert len(scored.run.dets) > 0 and scored.names == ["yellowish", "purplish"]


def test_a_short_names_file_is_named_in_the_error(valid_set, tmp_path):
    s, net = valid_set
    short = tmp_path / "one.names"
    short.write_text("yellowish\n")
    data = tmp_path / "short.data"
    data.write_text(f"valid = {s['list']}\nnames = {short}\n")
    with pytest.raises(DataError, match="1 names for a network with 2 classes") as err:
        score_valid(valid_setup(data), net)
    assert str(short) in str(err.value)


def test_coco_split_for_names_the_file_not_a_flag(tmp_path):
    split = tmp_path / "coco.txt"
    split.write_text("ant\n")
    assert coco_split_for("ilsvrc", ["ant", "bee"], split)[0] == [True, False]
    with pytest.raises(DataError, match="only applies to the ilsvrc metric") as err:
        coco_split_for("voc", ["ant", "bee"], split)
    assert "--" not in str(err.value).replace(str(split), "")
    notes = []
    assert coco_split_for("ilsvrc", ["ant", "bee"], None, notes.append) == (None, "")
    assert "no COCO split for 2 classes" in notes[0]
