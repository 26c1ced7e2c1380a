"""The detection loader: deterministic requests, worker processes, bad input reported once."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darkpy.data.synth import generate
from darkpy.train.detection.loader import MISSING_LABELS, DetectionSource, Request, RequestLoader


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("set")
    data = generate(root / "s", images=8, classes=3, size=64, seed=0)
    return data.parent


def _source(root, paths=None, **kw):
    paths = paths or (root / "train.txt").read_text().split()
    return DetectionSource(paths, 3, 30, 0.2, 0.1, 1.5, 1.5, seed=kw.pop("seed", 5), **kw)


def test_same_request_same_batch_with_or_without_workers(small_set):
    src = _source(small_set)
    reqs = [Request(0, 0, 2, 64, 64), Request(0, 2, 2, 64, 64), Request(1, 0, 2, 96, 96)]
    inline = [r[1:3] for r in RequestLoader(src, lambda: iter(reqs), workers=0)]
    pooled = [r[1:3] for r in RequestLoader(src, lambda: iter(reqs), workers=2)]
    for (a, ta), (b, tb) in zip(inline, pooled):
        assert torch.equal(a, b) and torch.equal(ta, tb)
    assert inline[2][0].shape == (2, 3, 96, 96)      # the size travels with the request
    assert 0.0 <= float(inline[0][0].min()) and float(inline[0][0].max()) <= 1.0
    # slot k of a batch does not depend on how the batch is split into requests
    whole = src.load(Request(0, 0, 4, 64, 64))[0]
    assert torch.equal(whole[2:], inline[1][0])


def test_truth_rows_are_xywh_class(small_set):
    _, truth, warnings = _source(small_set).load(Request(0, 0, 4, 64, 64))
    assert not warnings
    valid = truth[..., 2] > 0
    assert valid.any()
    t = truth[valid]
    assert ((t[:, :4] >= 0) & (t[:, :4] <= 1)).all() and set(t[:, 4].tolist()) <= {0.0, 1.0, 2.0}


def test_bad_input_is_reported_not_fatal(small_set, tmp_path):
    import shutil

    root = tmp_path / "bad"
    shutil.copytree(small_set, root)
    imgs = sorted((root / "images").glob("*.jpg"))
    (root / "labels" / (imgs[0].stem + ".txt")).unlink()                   # no label file
    (root / "labels" / (imgs[1].stem + ".txt")).write_text("0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.1 0.1\n")
    imgs[2].write_bytes(b"not a jpeg")                                     # corrupt image
    src = _source(root, [str(p) for p in imgs[:3]])
    keys = {}
    for it in range(6):
        _, truth, warnings = src.load(Request(it, 0, 4, 64, 64))
        keys.update(dict(warnings))
    assert MISSING_LABELS in keys and "no boxes" not in keys[MISSING_LABELS]
    assert any(k.startswith("bad-image:") for k in keys)
    bad_line = [t for k, t in keys.items() if ":2:" in k]
    assert bad_line and "class 7 out of range" in bad_line[0] and bad_line[0].endswith("(line skipped)")


def _odd_labels(tmp_path):
    """A list whose label files cover every case: plain, CRLF, an exponent, lines with problems,
    a classification-only line, a missing file, a directory where the file should be, a VOC id
    found beside the list, and an entry given relative to the list."""
    import shutil

    root = tmp_path / "odd"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    src = sorted(p for p in (tmp_path / "src").rglob("*.jpg"))[0]
    texts = ["0 0.5 0.5 0.2 0.2\n1 0.25 0.75 0.1 0.3\n", "2 0.5 0.5 0.2 0.2\r\n", "1 0.5 0.5 2e-1 0.2\n",
             "0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.1 0.1\nx\n0 1.5 0.5 0.1 0.1\n", "2 0 0 0.3 0.4\n0 0.5 0.5 0.2 0.2\n",
             None, "dir", ""]
    entries = []
    for i, text in enumerate(texts):
        shutil.copy(src, root / "images" / f"{i}.jpg")
        entries.append(str(root / "images" / f"{i}.jpg"))
        if text == "dir":
            (root / "labels" / f"{i}.txt").mkdir()
        elif text is not None:
            (root / "labels" / f"{i}.txt").write_text(text, newline="")
    shutil.copy(src, root / "vocid.jpg")
    (root / "labels" / "vocid.txt").write_text("1 0.5 0.5 0.4 0.4\n")
    entries.append("vocid.jpg")                  # relative: found beside the list
    (root / "train.txt").write_text("\n".join(entries) + "\n")
    return root, entries


def test_the_label_index_gives_what_reading_each_file_gives(tmp_path):
    from darkpy.errors import DataError
    from darkpy.formats.labelcache import LabelCache
    from darkpy.train.detection.loader import label_index

    generate(tmp_path / "src" / "s", images=1, classes=3, size=32, seed=0)
    root, entries = _odd_labels(tmp_path)
    src = _source(root, entries, list_dir=str(root))
    for cache in (None, LabelCache(tmp_path / "cache"), LabelCache(tmp_path / "cache")):
        indexed = _source(root, entries, list_dir=str(root))
        indexed.index = label_index(indexed, cache)
        for j, entry in enumerate(entries):
            image = src.resolve(entry)
            w_old, w_new = [], []
            try:
                old = src.read_labels(image, w_old)
            except DataError as exc:
                with pytest.raises(DataError) as new_exc:
                    indexed.read_labels(image, w_new, j)
                assert str(new_exc.value) == str(exc)
                continue
            new = indexed.read_labels(image, w_new, j)
            assert new.dtype == old.dtype and new.tobytes() == old.tobytes(), entry
            assert w_new == w_old, entry
            new[:] = -1                          # a caller may write into what it gets
            assert indexed.read_labels(image, [], j).tobytes() == old.tobytes()


def test_batches_are_the_same_with_the_label_index(small_set):
    from darkpy.train.detection.loader import label_index

    plain = _source(small_set)
    indexed = _source(small_set)
    indexed.index = label_index(indexed)
    for req in (Request(0, 0, 4, 64, 64), Request(3, 4, 4, 96, 96)):
        a, ta, wa = plain.load(req)
        b, tb, wb = indexed.load(req)
        assert torch.equal(a, b) and torch.equal(ta, tb) and wa == wb
