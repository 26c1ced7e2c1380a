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
