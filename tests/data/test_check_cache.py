"""`data check` and `data stats` through the label cache: the same bytes out with a cold cache,
a warm one and `--no-cache`, on a set with every kind of problem planted."""
import os
import time
from pathlib import Path

import pytest

from darkpy.data.synth import generate


def planted(root: Path) -> Path:
    """A synth set with bad labels of each kind (in both Darknets' places), a missing label, one
    in pjreddie's place only, a missing and an unreadable image, a duplicate entry and a folder
    where a label file should be; every file dated 10 s back so the cache may keep it."""
    data = generate(root, images=40, classes=3, size=32, seed=1, valid=0.3)
    labels = sorted((root / "labels").glob("*.txt"))

    def put(i, text):
        labels[i].write_text(text)
        (root / "images" / labels[i].name).write_text(text)

    put(0, "0 1.5 0.5 0.1 0.1\n1 0.5 0.5 0.2 0.2\n")
    put(1, "0 0.5 0.5 0.1\n")
    put(2, "0 0.5 abc 0.1 0.1\n\n2 0.1 0.1 0.1 0.1\n")
    put(3, "7 0.5 0.5 0.1 0.1\n")
    put(4, "")
    put(5, "1 0.5 0.5 0 0.1\n1 0.5 0.5 0.1 0.1\n")
    put(6, "2 0 0 0.3 0.4\n")
    put(7, "1 5e-1 0.5 0.1 0.1\r\n0 0.5 0.5 0.2 0.2\r\n")
    put(8, "-1 0.5 0.5 0.1 0.1\n")
    put(9, "0 0.5 0.5 0.1 0.1 0.3\n0 nan 0.5 0.1 0.1\n")
    labels[10].unlink()
    (root / "images" / labels[10].name).unlink()
    (root / "images" / labels[11].name).unlink()
    (root / "images" / (labels[12].stem + ".jpg")).unlink()
    (root / "images" / (labels[13].stem + ".jpg")).write_bytes(b"\xff\xd8\xff\xe0garbage")
    train = (root / "train.txt").read_text().splitlines()
    train.insert(3, train[1])
    (root / "train.txt").write_text("\n".join(train) + "\n")
    os.mkdir(root / "labels" / "dirlabel.txt")
    (root / "images" / "dirlabel.jpg").write_bytes((root / "images" / (labels[20].stem + ".jpg")).read_bytes())
    with open(root / "valid.txt", "a") as f:
        f.write(f"{root}/images/dirlabel.jpg\n")
    old = time.time() - 10
    for folder in ("labels", "images"):
        for p in (root / folder).iterdir():
            os.utime(p, (old, old))
    return data


EXPECTED = [
    "bad-coordinates train.txt:1: {r}/labels/000000.txt: line 1: coordinates outside [0,1]: '0 1.5 0.5 0.1 0.1'",
    "bad-label train.txt:2: {r}/labels/000001.txt: line 1: expected 5 fields 'class x y w h', got 4",
    "bad-label train.txt:3: {r}/labels/000002.txt: line 1: not a number in '0 0.5 abc 0.1 0.1'",
    "duplicate train.txt:4: {r}/images/000001.jpg: repeats line 2 of train.txt",
    "class-range train.txt:5: {r}/labels/000003.txt: line 1: class 7 out of range (classes=3)",
    "zero-size train.txt:7: {r}/labels/000005.txt: line 1: box of size 0 x 0.1",
    "class-range train.txt:10: {r}/labels/000008.txt: line 1: class -1 out of range (classes=3)",
    "bad-label train.txt:11: {r}/labels/000009.txt: line 1: expected 5 fields 'class x y w h', got 6",
    "bad-coordinates train.txt:11: {r}/labels/000009.txt: line 2: coordinates outside [0,1]: '0 nan 0.5 0.1 0.1'",
    "missing-label train.txt:12: {r}/labels/000010.txt: label file not found",
    "missing-image train.txt:14: {r}/images/000012.jpg: image file not found",
    "unreadable-image train.txt:15: {r}/images/000013.jpg: cannot read image: JPEG ends before its frame header",
    "missing-label valid.txt:13: {r}/labels/dirlabel.txt: label file is a folder, not a regular file",
    "13 errors (--fix writes cleaned lists without them)",
]


@pytest.fixture(scope="module")
def bad_set(tmp_path_factory) -> Path:
    return planted(tmp_path_factory.mktemp("planted") / "set")


def test_check_and_stats_print_the_same_with_or_without_the_cache(cli, bad_set, tmp_path, monkeypatch):
    monkeypatch.setenv("DARKPY_CACHE_DIR", str(tmp_path / "cache"))
    root = bad_set.parent
    runs = {}
    for name, extra in (("none", ["--no-cache"]), ("cold", []), ("warm", []), ("none2", ["--no-cache"])):
        check_code, check_out, _ = cli("data", "check", bad_set, *extra)
        list_code, list_out, _ = cli("data", "check", root / "valid.txt", "--classes", "2", *extra)
        png = tmp_path / f"{name}.png"
        stats_code, stats_out, _ = cli("data", "stats", bad_set, "-o", png, *extra)
        runs[name] = (check_code, check_out, list_code, list_out, stats_code,
                      stats_out.replace(str(png), "PNG"))
        if name == "none":
            assert not (tmp_path / "cache").exists()  # --no-cache writes no cache either
    # train (unique entries) and valid of the .data file, valid.txt at --classes 2, stats (all entries)
    assert len(list((tmp_path / "cache").glob("list-*.npy"))) == 4
    assert runs["none"] == runs["cold"] == runs["warm"] == runs["none2"]
    check_code, out, list_code, list_out, stats_code, stats_out = runs["warm"]
    assert (check_code, list_code, stats_code) == (1, 1, 0)
    lines = out.splitlines()
    for line in EXPECTED:
        assert line.format(r=root) in lines
    assert "class-range valid.txt:1:" in list_out
    assert stats_out.startswith("29 images, 57 boxes, 1 classification-only lines (no box)\n")


def test_a_changed_file_is_read_again(cli, bad_set, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("DARKPY_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "copy"
    shutil.copytree(bad_set.parent, root, symlinks=True)
    lst = root / "valid.txt"
    lst.write_text((bad_set.parent / "valid.txt").read_text().replace(str(bad_set.parent), str(root)))
    code, first, _ = cli("data", "check", lst)
    assert code == 1 and "line 1: class 9" not in first
    label = root / "labels" / f"{Path(lst.read_text().split()[0]).stem}.txt"
    label.write_text("9 0.5 0.5 0.1 0.1\n")  # a new size: not taken from the cache
    code, second, _ = cli("data", "check", lst, "--classes", "3")
    assert f"{label}: line 1: class 9 out of range (classes=3)" in second
    code, third, _ = cli("data", "check", lst, "--classes", "3", "--no-cache")
    assert third == second
