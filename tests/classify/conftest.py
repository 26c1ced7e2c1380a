from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cls_helpers import make_color_set  # noqa: E402


@pytest.fixture
def color_set(tmp_path):
    return make_color_set(tmp_path, per_class=6)
