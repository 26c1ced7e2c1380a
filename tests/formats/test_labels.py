import pytest

from darkpy.errors import DataError
from darkpy.formats.labels import label_path_for, parse_labels


def test_label_path_follows_darknets_replacements():
    assert str(label_path_for("/data/VOC2007/JPEGImages/000001.jpg")) == "/data/VOC2007/labels/000001.txt"
    assert str(label_path_for("set/images/a.PNG")) == "set/labels/a.txt"
    # only the first "images" is replaced, as Darknet's find_replace does
    assert str(label_path_for("images/images/x.jpeg")) == "labels/images/x.txt"


def test_label_outside_unit_square_names_file_and_line():
    with pytest.raises(DataError, match=r"a\.txt:2: coordinates outside \[0,1\]"):
        parse_labels("0 0.5 0.5 0.1 0.1\n1 1.2 0.5 0.1 0.1\n", "a.txt")


def test_label_class_out_of_range_and_malformed_lines():
    with pytest.raises(DataError, match=r"b\.txt:1: class 3 out of range \(classes=3\)"):
        parse_labels("3 0.5 0.5 0.1 0.1\n", "b.txt", classes=3)
    with pytest.raises(DataError, match=r"c\.txt:1: expected 5 fields"):
        parse_labels("0 0.5 0.5 0.1\n", "c.txt")
    with pytest.raises(DataError, match=r"d\.txt:1: not a number"):
        parse_labels("0 0.5 x 0.1 0.1\n", "d.txt")


def test_blank_lines_are_skipped():
    assert parse_labels("\n0 0.5 0.5 0.1 0.1\n\n").shape == (1, 5)


# -- one reader: class-only lines, problems, the resolver -------------------------------------------

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from darkpy.formats.labels import MARK, label_file, parse_label_text, read_label_file  # noqa: E402


def test_class_only_lines_in_both_forms_are_not_boxes():
    text = "3 0 0 0.4 0.5\n1 0.5 0.5 0.1 0.1\n2 1000000 1000000 1 1\n"
    labels = parse_label_text(text, "c.txt", classes=4)
    assert labels.boxes.tolist() == [[1, 0.5, 0.5, pytest.approx(0.1), pytest.approx(0.1)]]
    assert labels.class_only.tolist() == [[3, pytest.approx(0.4), 0.5], [2, 1, 1]]
    assert not labels.problems
    rows = labels.rows()
    assert rows[1:, 1:3].tolist() == [[MARK, MARK]] * 2 and rows[1:, 0].tolist() == [3, 2]
    # strict readers leave them out instead of treating (0, 0) as a box at the corner
    assert parse_labels(text, "c.txt", classes=4).shape == (1, 5)


def test_class_only_class_bound_can_differ_from_box_classes():
    labels = parse_label_text("8 0 0 1 1\n8 0.5 0.5 0.1 0.1\n", "t.txt", classes=5, class_only_classes=9)
    assert labels.class_only[:, 0].tolist() == [8]
    assert [(p.line, p.kind) for p in labels.problems] == [(2, "class-range")]


def test_all_problems_are_collected_with_kind_and_line():
    labels = parse_label_text("0 0.5\n0 x 0.5 0.1 0.1\n5 0.5 0.5 0.1 0.1\n0 0.5 1.5 0.1 0.1\n0 0.5 0.5 nan 0.1\n",
                              "p.txt", classes=2)
    assert [(p.line, p.kind) for p in labels.problems] == [
        (1, "bad-label"), (2, "bad-label"), (3, "class-range"), (4, "bad-coordinates"), (5, "bad-coordinates")]
    assert str(labels.problems[2]).startswith("p.txt:3: class 5 out of range")
    with pytest.raises(DataError, match=r"p\.txt:1: expected 5 fields"):
        labels.raise_first()


def test_missing_and_empty_label_files(tmp_path):
    assert read_label_file(tmp_path / "none.txt", missing_ok=True) is None
    with pytest.raises(DataError, match="label file not found"):
        read_label_file(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("")
    empty = read_label_file(tmp_path / "empty.txt")
    assert empty.boxes.shape == (0, 5) and empty.class_only.shape == (0, 3) and not empty.problems


def test_one_resolver_for_list_entries(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "set"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    (data / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (data / "labels" / "000001.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    # relative to the working directory (Darknet) ...
    assert label_file("set/images/a.jpg", data) == Path("set/labels/a.txt")
    # ... else relative to the list, else labels/<id>.txt beside the list for a list of ids
    assert label_file("images/a.jpg", data) == data / "labels" / "a.txt"
    assert label_file("000001", data) == data / "labels" / "000001.txt"
    # nothing found: Darknet's own candidate, for the message
    assert label_file("images/zzz.jpg", data) == Path("labels/zzz.txt")


def test_train_loader_and_ground_truth_find_the_same_label_file(tmp_path):
    """The bug one reader fixes: evaluation found label files training read as 'no objects'."""
    import cv2

    from darkpy.train.detection.loader import DetectionSource
    from darkpy.eval.groundtruth import find_label_files

    (tmp_path / "labels").mkdir()
    (tmp_path / "pics").mkdir()
    cv2.imwrite(str(tmp_path / "pics" / "000001.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "labels" / "000001.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    lst = tmp_path / "list.txt"
    lst.write_text("pics/000001.png\n")
    assert find_label_files(["pics/000001.png"], lst) == [tmp_path / "labels" / "000001.txt"]
    source = DetectionSource(["pics/000001.png"], 1, 5, 0.0, 0.0, 1.0, 1.0, list_dir=str(tmp_path))
    warnings: list = []
    rows = source.read_labels(source.resolve("pics/000001.png"), warnings)
    assert not warnings and rows.tolist() == [[0, 0.5, 0.5, 0.25, 0.25]]
