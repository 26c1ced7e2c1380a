from __future__ import annotations

import numpy as np
import pytest

from darkpy.classify.labels import LabelMatcher, assign_labels, folder_labelled, read_classifier_data
from darkpy.errors import DataError


def test_matcher_finds_every_label_including_prefixes_and_nested():
    m = LabelMatcher(["cat", "catfish", "fish", "dog"])
    assert m.matches("/data/catfish/001.jpg") == [0, 1, 2]
    assert m.matches("/data/dog/001.jpg") == [3]
    assert m.matches("/data/bird/001.jpg") == []


def test_matcher_agrees_with_plain_substring_rule():
    rng = np.random.default_rng(1)
    alphabet = list("abn0")
    labels = sorted({"".join(rng.choice(alphabet, size=rng.integers(1, 4))) for _ in range(25)})
    m = LabelMatcher(labels)
    for _ in range(300):
        path = "".join(rng.choice(alphabet + ["/"], size=12))
        assert m.matches(path) == [i for i, lab in enumerate(labels) if lab in path]


def test_assign_labels_imagenet_style():
    labels = ["n01440764", "n01443537"]
    out = assign_labels(["/x/train/n01443537/n01443537_1.JPEG", "/x/n01440764_9.JPEG"], labels)
    assert out.classes.tolist() == [1, 0]


def test_paths_with_no_or_two_labels_are_reported_not_guessed():
    labels = ["cat", "bobcat", "dog"]
    with pytest.raises(DataError) as exc:
        assign_labels(["/d/dog/1.jpg", "/d/bird/2.jpg", "/d/bobcat/3.jpg"], labels, "train.list")
    text = str(exc.value)
    assert "1 image path(s) contain no label: '/d/bird/2.jpg'" in text
    assert "'/d/bobcat/3.jpg' matches 'cat', 'bobcat'" in text
    assert text.startswith("train.list: ")


def test_folder_tree(tmp_path):
    import cv2

    for cls in ("zebra", "ant"):
        (tmp_path / cls / "sub").mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / cls / "sub" / f"{i}.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "ant" / "notes.txt").write_text("x")
    out = folder_labelled(tmp_path)
    assert out.labels == ["ant", "zebra"]
    assert out.classes.tolist() == [0, 0, 1, 1]
    with pytest.raises(DataError, match="not in the label list"):
        folder_labelled(tmp_path, ["ant", "horse"])


def test_data_file_top_larger_than_classes(tmp_path):
    (tmp_path / "labels.list").write_text("a\nb\nc\n")
    (tmp_path / "x.data").write_text("classes=3\nlabels=labels.list\ntop=5\n")
    with pytest.raises(DataError, match=r"top=5 is larger than classes=3"):
        read_classifier_data(tmp_path / "x.data")


def test_data_file_defaults_and_classes_mismatch(tmp_path):
    (tmp_path / "labels.list").write_text("a\nb\nc\n")
    (tmp_path / "x.data").write_text("classes=3\nlabels=labels.list\n")
    d = read_classifier_data(tmp_path / "x.data")
    assert (d.top, d.names, d.classes) == (1, ["a", "b", "c"], 3)
    (tmp_path / "y.data").write_text("classes=4\nlabels=labels.list\n")
    with pytest.raises(DataError, match="classes=4 but the label list has 3"):
        read_classifier_data(tmp_path / "y.data")


def test_data_file_with_folder_tree_needs_no_labels(tmp_path):
    import cv2

    for cls in ("b", "a"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "train" / cls / "0.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "x.data").write_text(f"train={tmp_path / 'train'}\n")
    d = read_classifier_data(tmp_path / "x.data")
    assert d.labels == ["a", "b"] and d.classes == 2
    assert d.split("train").classes.tolist() == [0, 1]


def test_only_the_first_classes_labels_count(tmp_path):
    """cfg/imagenet1k.data: classes=1000 with the 21842-line ImageNet label list."""
    (tmp_path / "labels.list").write_text("a\nb\nc\nd\n")
    (tmp_path / "x.data").write_text("classes=2\nlabels=labels.list\n")
    d = read_classifier_data(tmp_path / "x.data")
    assert d.labels == ["a", "b"]
    with pytest.raises(DataError, match="contain no label"):
        assign_labels(["/x/c/1.jpg"], d.labels)


def test_bundled_imagenet1k_data_reads(repo):
    d = read_classifier_data(repo / "cfg" / "imagenet1k.data")
    assert d.classes == 1000 and len(d.labels) == 1000 and d.top == 5
    assert d.labels[0] == (repo / "data" / "imagenet.labels.list").read_text().split()[0]


def test_relative_list_entries_resolve_beside_the_list(tmp_path, monkeypatch):
    import cv2

    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "1_cat.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "labels.list").write_text("cat\ndog\n")
    (tmp_path / "train.list").write_text("imgs/1_cat.png\n")
    (tmp_path / "x.data").write_text(f"classes=2\nlabels={tmp_path / 'labels.list'}\n"
                                     f"train={tmp_path / 'train.list'}\n")
    monkeypatch.chdir("/")
    out = read_classifier_data(tmp_path / "x.data").split("train")
    assert out.paths == [str(tmp_path / "imgs" / "1_cat.png")] and out.classes.tolist() == [0]
