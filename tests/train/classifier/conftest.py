from __future__ import annotations

import pytest

from tests.classify.cls_helpers import make_color_set


@pytest.fixture
def color_set(tmp_path):
    return make_color_set(tmp_path, per_class=6)
