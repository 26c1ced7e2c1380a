import hashlib
from pathlib import Path

import numpy as np
import pytest

from darkpy.data.synth import SHAPES, generate, render
from darkpy.formats.datafile import read_data_file, read_names
from darkpy.errors import UsageError
from darkpy.formats.labels import label_path_for, read_labels


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_layout_and_data_file(tmp_path):
    data = generate(tmp_path / "set", images=10, classes=3, size=64, seed=3, valid=0.2, name="shapes")
    root = (tmp_path / "set").resolve()
    assert data == root / "shapes.data"
    options = read_data_file(data).options
    assert options == {"classes": "3", "train": str(root / "train.txt"), "valid": str(root / "valid.txt"),
                       "names": str(root / "shapes.names"), "backup": str(root / "backup")}
    assert read_names(root / "shapes.names") == ["circle", "square", "triangle"]
    train = (root / "train.txt").read_text().split()
    valid = (root / "valid.txt").read_text().split()
    assert (len(train), len(valid)) == (8, 2)
    for entry in train + valid:
        assert Path(entry).is_file() and label_path_for(entry).is_file()
    assert (root / "backup").is_dir()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = generate(tmp_path / "a", images=4, size=48, seed=7).parent
    b = generate(tmp_path / "b", images=4, size=48, seed=7).parent
    c = generate(tmp_path / "c", images=4, size=48, seed=8).parent
    # The lists and .data name their own folder; compare images and labels only.
    assert _digest(a / "images") == _digest(b / "images") and _digest(a / "labels") == _digest(b / "labels")
    assert _digest(a / "images") != _digest(c / "images")


def test_image_does_not_depend_on_set_size():
    img1, lab1 = render(5, seed=2, size=64, classes=4)
    img2, lab2 = render(5, seed=2, size=64, classes=4)
    assert np.array_equal(img1, img2) and lab1 == lab2


def test_objects_are_learnable_sizes_counts_and_classes():
    counts, sides, classes = [], [], set()
    for i in range(60):
        _, labels = render(i, seed=0, size=128, classes=len(SHAPES))
        counts.append(len(labels))
        for cls, x, y, w, h in labels:
            classes.add(cls)
            sides.append(max(w, h))
            assert 0 < x - w / 2 + 1e-9 and x + w / 2 <= 1 + 1e-9
            assert 0 < y - h / 2 + 1e-9 and y + h / 2 <= 1 + 1e-9
    assert 1 <= min(counts) and max(counts) <= 4
    assert min(sides) >= 0.08 and max(sides) <= 0.52
    assert classes == set(range(len(SHAPES)))


def test_boxes_are_tight_around_the_object():
    # Object pixels differ strongly from the smooth background: the rows/columns just outside each
    # box should look like background, the box edges should touch the object.
    img, labels = render(0, seed=11, size=128, classes=1)  # circles only
    grey = img.astype(np.float32).mean(2)
    for _, x, y, w, h in labels:
        x0, x1 = round((x - w / 2) * 128), round((x + w / 2) * 128)
        y0, y1 = round((y - h / 2) * 128), round((y + h / 2) * 128)
        centre = grey[round(y * 128), round(x * 128)]
        assert abs(grey[round(y * 128), x0] - centre) < 40   # leftmost column holds object pixels
        assert abs(grey[round(y * 128), x1 - 1] - centre) < 40
        if x0 > 0:
            assert abs(grey[round(y * 128), x0 - 1] - centre) > 30  # one pixel out: background


def test_labels_pass_the_reader(tmp_path):
    data = generate(tmp_path / "s", images=6, classes=8, size=64)
    for entry in (data.parent / "train.txt").read_text().split():
        boxes = read_labels(label_path_for(entry), classes=8)
        assert 1 <= len(boxes) <= 4


@pytest.mark.parametrize("kwargs", [
    dict(classes=0), dict(classes=9), dict(images=0), dict(size=8), dict(valid=1.0)])
def test_bad_options_are_usage_errors(tmp_path, kwargs):
    with pytest.raises(UsageError):
        generate(tmp_path / "x", **{"images": 2, **kwargs})
    assert not (tmp_path / "x").exists()


def test_cli_synth(cli, tmp_path):
    code, out, _ = cli("data", "synth", "-o", tmp_path / "demo", "--images", 5, "--classes", 2, "--size", 64)
    assert code == 0, out
    assert (tmp_path / "demo/synth.data").is_file()
    assert len(list((tmp_path / "demo/images").glob("*.jpg"))) == 5
