from __future__ import annotations
import sys
from pathlib import Path as _P
sys.path.insert(0, str(_P(__file__).parent))

import json
from pathlib import Path

import pytest

from darkpy.formats.datafile import read_names
from darkpy.eval.groundtruth import gt_from_voc
from darkpy.eval.resultfiles import read_voc_results


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "golden" / "eval"


@pytest.fixture(scope="session")
def expected(eval_dir):
    return json.loads((eval_dir / "expected.json").read_text())


@pytest.fixture(scope="session")
def names(eval_dir):
    return read_names(eval_dir / "names.txt")


@pytest.fixture(scope="session")
def voc_gt(eval_dir, names):
    return gt_from_voc(eval_dir / "test.txt", eval_dir / "Annotations", names)


@pytest.fixture(scope="session")
def voc_dets(eval_dir, names):
    return read_voc_results(sorted(eval_dir.glob("comp4_det_test_*.txt")), names)
