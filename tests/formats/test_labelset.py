"""The one-pass label reader gives exactly what the per-line reader gives, file by file."""
import random

import numpy as np
import pytest

from darkpy.errors import DataError
from darkpy.formats.labels import label_file, read_label_file
from darkpy.formats.labelset import _label_path_str, label_paths, read_label_set, read_list_labels

PIECES = ["0", "1", "3", "19", "20", "007", "-0", "0.5", ".5", "5.", "-.5", "-0.0", "1.0", "1.5",
          "0.123456789012345678", "1e-3", "1E2", "+0.5", "nan", "inf", "x", "0x1", "1_0", "\u0663",
          "0.5.5", "--1", "-", ".", "1000000", "100000", "99999", "0.000001", "12345678901234567",
          "0.99999999999999999999", "\u00a0", "1.", "0.3", "0.7"]


def _line(rnd):
    k = rnd.choice([5, 5, 5, 5, 4, 6, 0])
    toks = [rnd.choice(PIECES) for _ in range(k)]
    if k == 5 and rnd.random() < 0.7:
        toks = [str(rnd.randrange(25))] + [f"{rnd.random():.{rnd.randrange(1, 19)}f}" for _ in range(4)]
        if rnd.random() < 0.1:
            toks[1] = toks[2] = "0"
    return rnd.choice(["", " ", "\t"]) + rnd.choice([" ", "\t", "  "]).join(toks) + rnd.choice(["", " "])


def _same(got, ref, path):
    if ref is None:
        assert got is None, path
        return
    assert got is not None, path
    assert got.boxes.tobytes() == ref.boxes.tobytes(), path
    assert np.array_equal(got.box_lines, ref.box_lines), path
    assert got.class_only.tobytes() == ref.class_only.tobytes(), path
    assert [(q.file, q.line, q.kind, q.detail) for q in got.problems] == \
        [(q.file, q.line, q.kind, q.detail) for q in ref.problems], path


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("classes", [None, 20])
def test_random_files_parse_as_the_per_line_reader_does(tmp_path, seed, classes):
    rnd = random.Random(seed)
    paths = []
    for i in range(400):  # over the threshold where reading goes to threads
        nl = rnd.choice(["\n"] * 8 + ["\r\n", "\r", "\x0c"])
        text = nl.join(_line(rnd) for _ in range(rnd.randrange(0, 6))) + rnd.choice(["", nl])
        p = tmp_path / f"{i}.txt"
        if rnd.random() > 0.05:
            p.write_bytes(text.encode("utf-8"))
        paths.append(p)
    got = read_label_set(paths, classes, threads=2)
    for i, p in enumerate(paths):
        _same(got.labels(i), read_label_file(p, classes, missing_ok=True), p)


def test_values_are_bit_identical_to_float(tmp_path):
    rng = np.random.default_rng(0)
    vals = rng.random(5000)
    lines = [f"{rng.integers(0, 80)} " + " ".join(f"{v:.{d}f}" for v, d in zip(vals[i:i + 4], rng.integers(1, 18, 4)))
             for i in range(0, 5000, 4)]
    p = tmp_path / "a.txt"
    p.write_text("\n".join(lines) + "\n")
    got = read_label_set([p]).labels(0)
    ref = read_label_file(p)
    assert len(got.boxes) == 1250 and got.boxes.tobytes() == ref.boxes.tobytes()


def test_bad_line_keeps_its_file_and_line_for_strict_readers(tmp_path):
    (tmp_path / "ok.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "bad.txt").write_text("0 0.5 0.5 0.1 0.1\r\n\r\n1 0.5 1.5 0.1 0.1\r\n")
    ls = read_label_set([tmp_path / "ok.txt", tmp_path / "missing.txt", tmp_path / "bad.txt"])
    assert ls.found.tolist() == [True, False, True]
    assert ls.box_counts().tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"bad\.txt:3: coordinates outside \[0,1\]"):
        ls.raise_first()


def test_a_folder_where_a_label_file_should_be_is_the_per_line_readers_error(tmp_path):
    (tmp_path / "d.txt").mkdir()
    ls = read_label_set([tmp_path / "d.txt"])
    with pytest.raises(DataError) as exc:
        read_label_file(tmp_path / "d.txt")
    with pytest.raises(DataError) as got:
        ls.raise_first()
    assert str(got.value) == str(exc.value)


def test_list_entries_resolve_as_label_file_does(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "labels" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    entries = [str(tmp_path / "images" / "a.jpg"), "images/b.jpg", "c", "./images//a.jpg"]
    for e in entries:
        assert _label_path_str(e) == str(label_file(e)), e
    expect = [str(label_file(e, tmp_path)) for e in entries]
    assert label_paths(entries, tmp_path) == expect
    ls = read_list_labels(entries, tmp_path)
    assert ls.paths == expect
    assert ls.found.tolist() == [True, True, False, True]
    assert ls.boxes[:, 0].tolist() == [0, 1, 0]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_the_per_line_readers_error_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "f.txt")
    (tmp_path / "ok.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError) as exc:
        read_label_file(tmp_path / "f.txt")
    ls = read_label_set([tmp_path / "ok.txt", tmp_path / "f.txt"])
    assert ls.box_counts().tolist() == [1, 0]
    with pytest.raises(DataError) as got:
        ls.raise_first()
    assert str(got.value) == str(exc.value)
