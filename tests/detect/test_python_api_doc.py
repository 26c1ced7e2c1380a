"""docs/python-api.md: every ```python block runs from the repository root, and the first one
prints what the page says it prints."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "python-api.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_has_examples():
    assert len(_blocks("python")) >= 4


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_example_runs(index, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_blocks("python")[index], f"{PAGE.name} example {index + 1}", "exec"), {"__name__": "__doc__"})
    if index == 0:
        assert out.getvalue() == _blocks("text")[0]
