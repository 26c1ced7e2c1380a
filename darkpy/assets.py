"""Where the bundled files (cfg/, data/, the demo model) are found.

Every module asks here instead of walking `__file__` parents, so a change in how the files are
shipped touches one place."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def asset(relative: str | Path) -> Path:
    """Path of a bundled file given relative to the project root (`cfg/demo.cfg`, `data/9k.tree`)."""
    return ROOT / relative
