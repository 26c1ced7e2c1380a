"""The label cache: a cached read equals the uncached one, whatever changed in between."""
import os
import random
import time

import numpy as np
import pytest

from darkpy.formats import labelset
from darkpy.formats.labelcache import LabelCache
from darkpy.formats.labelset import read_label_set, read_list_labels

OLD = 1_600_000_000 * 10**9          # an mtime well in the past (not "racy")


def _same(a, b):
    assert a.paths == b.paths
    for name in ("found", "boxes", "box_lines", "box_offsets", "class_only", "class_only_offsets"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    key = lambda probs: {i: [(q.file, q.line, q.kind, q.detail) for q in v] for i, v in probs.items()}  # noqa: E731
    assert key(a.problems) == key(b.problems)
    assert {i: (type(e), str(e)) for i, e in a.errors.items()} == {i: (type(e), str(e)) for i, e in b.errors.items()}


def _write(path, text, mtime_ns=OLD):
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def dataset(tmp_path):
    """A list of 300 images: plain label files, CRLF, an exponent (per-line reader), a bad line, a
    classification-only line, a missing label, a label found beside the list (VOC ids), a
    directory where a label should be."""
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rnd = random.Random(0)
    entries = []
    for i in range(300):
        entries.append(str(root / "images" / f"{i:04d}.jpg"))
        lines = [f"{rnd.randrange(20)} {rnd.random():.6f} {rnd.random():.6f} {rnd.random():.6f} {rnd.random():.6f}"
                 for _ in range(rnd.randrange(1, 5))]
        text = "\n".join(lines) + "\n"
        if i == 3:
            text = text.replace("\n", "\r\n")
        if i == 4:
            text += "1 0.5 0.5 1e-1 0.2\n"
        if i == 5:
            text += "0 0.5 0.5\n"
        if i == 6:
            text += "7 0 0 0.3 0.4\n"
        if i == 7:
            continue  # no label file
        if i == 8:
            (root / "labels" / "0008.txt").mkdir()
            continue
        _write(root / "labels" / f"{i:04d}.txt", text)
    entries.append("voc-id-1")  # a VOC id: labels/voc-id-1.txt beside the list
    _write(root / "labels" / "voc-id-1.txt", "2 0.5 0.5 0.1 0.1\n")
    return root, entries


def _read(root, entries, cache=None):
    return read_list_labels(entries, root, 20, cache=cache)


def _count_reads(monkeypatch):
    seen = []
    real = labelset._read_some

    def counting(paths, stats=None):
        seen.extend(paths)
        return real(paths, stats)

    monkeypatch.setattr(labelset, "_read_some", counting)
    return seen


def test_a_second_read_comes_from_the_cache_and_equals_the_uncached_one(dataset, tmp_path, monkeypatch):
    root, entries = dataset
    cache = LabelCache(tmp_path / "cache")
    ref = _read(root, entries)
    _same(_read(root, entries, cache), ref)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    seen = _count_reads(monkeypatch)
    _same(_read(root, entries, cache), ref)
    # only the files the cache does not hold are read again: problems, a missing file, a
    # directory, the per-line reader's file, a label found away from Darknet's rule
    assert 0 < len(seen) <= 8
    assert str(root / "labels" / "0010.txt") not in seen


@pytest.mark.parametrize("change", ["size", "mtime", "delete", "new-problem"])
def test_a_changed_file_is_read_again(dataset, tmp_path, change):
    root, entries = dataset
    cache = LabelCache(tmp_path / "cache")
    _read(root, entries, cache)
    target = root / "labels" / "0010.txt"
    before = target.read_bytes()
    if change == "size":
        _write(target, before + b"3 0.25 0.25 0.5 0.5\n")
    elif change == "mtime":  # same size, another digit, another (old) mtime
        data = bytearray(before)
        i = data.index(b".") + 1
        data[i] = ord("8") if data[i] == ord("9") else ord("9")
        _write(target, bytes(data), OLD + 10**9)
        assert target.stat().st_size == len(before) and target.read_bytes() != before
    elif change == "delete":
        target.unlink()
    else:
        _write(target, before + b"99 0.5 0.5 0.1 0.1\n")  # class 99 >= 20
    got = _read(root, entries, cache)
    _same(got, _read(root, entries))
    _same(_read(root, entries, cache), got)  # and the cache written after the change holds


def test_a_file_changed_within_its_mtime_tick_is_not_trusted(dataset, tmp_path):
    """A file written moments ago is not kept: a second write in the same clock tick with the
    same size would not change what the cache compares."""
    root, entries = dataset
    cache = LabelCache(tmp_path / "cache")
    target = root / "labels" / "0011.txt"
    now = time.time_ns() // 10**9 * 10**9    # as a file system with whole-second times writes it
    _write(target, "1 0.5 0.5 0.2 0.2\n", now)
    _read(root, entries, cache)
    _write(target, "2 0.5 0.5 0.2 0.2\n", now)          # same size, same mtime
    got = _read(root, entries, cache)
    assert got.boxes[got.box_offsets[11], 0] == 2.0
    _same(got, _read(root, entries))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-key", "bad-counts"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(dataset, tmp_path, damage):
    root, entries = dataset
    folder = tmp_path / "cache"
    cache = LabelCache(folder)
    ref = _read(root, entries, cache)
    (file,) = folder.glob("*.npy")
    data = file.read_bytes()
    if damage == "garbage":
        file.write_bytes(b"\x93NUMPY not really" * 100)
    elif damage == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        file.write_bytes(b"")
    else:
        from darkpy.formats.labelcache import _join, _split

        parts = [p.copy() for p in _split(np.load(file))]
        if damage == "other-key":
            parts[1][-1] ^= 1
        else:
            parts[8] += 1       # box counts that do not add up to the rows
        np.save(file, _join(parts))
    _same(_read(root, entries, cache), ref)
    from darkpy.formats.labelcache import _split

    assert int(_split(np.load(file, allow_pickle=False))[0][1]) == len(entries)  # rebuilt, whole again
    _same(_read(root, entries, cache), ref)


def test_a_pickled_cache_is_never_loaded(dataset, tmp_path):
    root, entries = dataset
    folder = tmp_path / "cache"
    cache = LabelCache(folder)
    ref = _read(root, entries, cache)
    (file,) = folder.glob("*.npy")
    np.save(file, np.array([object()], dtype=object), allow_pickle=True)
    _same(_read(root, entries, cache), ref)
    assert np.load(file, allow_pickle=False).dtype == np.uint8   # replaced by a plain cache


def test_nothing_is_written_outside_the_cache_folder(dataset, tmp_path, monkeypatch):
    root, entries = dataset
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)

    def tree():
        return sorted((str(p), p.stat().st_mtime_ns if p.is_file() else 0) for p in tmp_path.rglob("*"))

    folder = tmp_path / "cache"
    _read(root, entries, LabelCache(folder))
    _write(root / "labels" / "0012.txt", "4 0.5 0.5 0.5 0.5\n")
    before = [t for t in tree() if not t[0].startswith(str(folder))]
    for _ in range(2):
        _read(root, entries, LabelCache(folder))
    assert [t for t in tree() if not t[0].startswith(str(folder))] == before
    assert [p.name for p in folder.iterdir() if not p.name.endswith(".npy")] == []  # no temporaries left


def test_an_unwritable_cache_folder_means_no_cache(dataset, tmp_path):
    root, entries = dataset
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = LabelCache(blocker / "cache")  # cannot be created
    ref = _read(root, entries)
    _same(_read(root, entries, cache), ref)
    _same(_read(root, entries, cache), ref)


def test_a_folder_read_through_the_cache(dataset, tmp_path):
    root, _ = dataset
    paths = sorted(str(p) for p in (root / "labels").glob("*.txt"))
    cache = LabelCache(tmp_path / "cache")
    ref = read_label_set(paths, 20)
    _same(read_label_set(paths, 20, cache=cache), ref)
    _same(read_label_set(paths, 20, cache=cache), ref)
    _same(read_label_set(paths, None, cache=cache), read_label_set(paths, None))  # other bounds: other file
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_the_folder_keeps_the_most_recent_files(tmp_path, monkeypatch):
    from darkpy.formats import labelcache

    monkeypatch.setattr(labelcache, "KEEP", 3)
    cache = LabelCache(tmp_path / "cache")
    p = tmp_path / "a.txt"
    _write(p, "1 0.5 0.5 0.1 0.1\n")
    for classes in range(2, 8):
        read_label_set([p], classes, cache=cache)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    from darkpy.formats.labelcache import default_folder

    monkeypatch.delenv("DARKPY_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_folder() == tmp_path / "xdg" / "darkpy" / "labels"
    monkeypatch.setenv("DARKPY_CACHE_DIR", str(tmp_path / "mine"))
    assert default_folder() == tmp_path / "mine"


def test_recent_mtimes_are_racy_for_a_tick_of_their_file_system():
    from darkpy.formats.labelcache import RACY_NS, racy

    now = time.time_ns()
    assert racy(np.array([now - 1000, now + 10**9]) | 1).all()                  # just written, future
    assert not racy(np.array([now - 10 * RACY_NS - 7]))[0]                       # fine time, long ago
    second = now // 10**9 * 10**9 - 10**9                                         # 1-2 s ago, whole seconds
    assert racy(np.array([second]))[0]
    assert not racy(np.array([second - 5 * 10**9]))[0]
