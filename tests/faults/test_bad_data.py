"""Bad data (labels out of range or garbled, missing, empty or truncated images): training's data
source, the evaluator's ground truth and `data check` give a result or one line, never a
traceback; an error raised in a data-loading worker is the same line as without workers."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from darkpy.data.synth import generate
from tests.faults.fuzz import Tally

LABEL_LINES = ["7 0.5 0.5 0.1 0.1", "-1 0.5 0.5 0.1 0.1", "0 nan 0.5 0.1 0.1", "0 0.5 0.5 inf 0.1",
               "0 1.5 -0.5 0.1 0.1", "0 0.5 0.5 0 0", "0 0.5", "x y z w h", "0 0.5 0.5 0.1 0.1 9",
               "1e400 0.5 0.5 0.1 0.1", "\x00\x01\x02", "0 0.5 0.5 1e30 1e30", "2147483648 .5 .5 .1 .1",
               "0\t0.5\t0.5\t0.1\t0.1", "\u0661 0.5 0.5 0.1 0.1", ""]


def _mutate(root: Path, rng: random.Random) -> str:
    images = sorted((root / "images").glob("*.jpg"))
    target = rng.choice(images)
    label = root / "labels" / (target.stem + ".txt")
    kind = rng.randrange(6)
    if kind == 0:
        line = rng.choice(LABEL_LINES)
        label.write_text(label.read_text() + line + "\n")
        return f"label line {line!r}"
    if kind == 1:
        label.unlink(missing_ok=True)
        return "label file missing"
    if kind == 2:
        target.unlink(missing_ok=True)
        return "image missing"
    if kind == 3:
        if target.exists():
            target.write_bytes(target.read_bytes()[: rng.randrange(1, 200)])
        return "image truncated"
    if kind == 4:
        target.write_bytes(b"")
        return "image empty"
    label.write_bytes(bytes(rng.randrange(256) for _ in range(40)))
    return "label binary"


@pytest.fixture(scope="module")
def clean_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    data = generate(root / "set", images=8, classes=3, size=64, seed=0, valid=0.0)
    return root / "set", data


def test_bad_data_fuzz_never_a_traceback(clean_set, tmp_path):
    import shutil

    from darkpy.data.check import check
    from darkpy.train.detection.loader import DetectionSource, Request
    from darkpy.eval.groundtruth import gt_from_labels

    src, _ = clean_set
    rng = random.Random(14)
    tally = Tally()
    for k in range(30):
        root = tmp_path / f"c{k}"
        shutil.copytree(src, root)
        lst = root / "train.txt"
        lst.write_text("".join(f"{root / 'images' / Path(p).name}\n" for p in (src / "train.txt").read_text().split()))
        what = "; ".join(_mutate(root, rng) for _ in range(rng.choice([1, 2, 3])))
        paths = lst.read_text().split()
        source = DetectionSource(paths, 3, 30, 0.2, 0.1, 1.5, 1.5, seed=k)
        tally.run(f"#{k} train: {what}", lambda: source.load(Request(0, 0, len(paths), 64, 64)))
        names = ["a", "b", "c"]
        tally.run(f"#{k} eval: {what}", lambda: gt_from_labels(lst, names, default_size=(64, 64)))
        tally.run(f"#{k} check: {what}", lambda: check(lst, classes=3, workers=1))
    assert tally.tried == 90 and not tally.tracebacks, "\n".join(tally.tracebacks[:3])


@pytest.mark.slow
def test_worker_errors_are_the_same_line_as_without_workers(clean_set, tmp_path, cli, tiny_cfg):
    import shutil

    src, _ = clean_set
    root = tmp_path / "set"
    shutil.copytree(src, root)
    (root / "train.txt").write_text("".join(f"{root / 'images' / Path(p).name}\n"
                                            for p in (src / "train.txt").read_text().split()))
    data = root / "d.data"
    data.write_text(f"classes=3\ntrain={root / 'train.txt'}\nbackup={tmp_path / 'b'}\n")
    for p in (root / "images").glob("*.jpg"):
        p.unlink()
    cfg = tiny_cfg(tmp_path / "tiny.cfg")
    errs = []
    for workers in ("0", "1"):
        code, out, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--workers", workers)
        assert code == 2, (workers, out, err)
        errs.append(err.strip().splitlines()[-1])
    assert errs[0] == errs[1] and "could not be read" in errs[0] and "Traceback" not in errs[1]
