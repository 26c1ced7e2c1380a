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
