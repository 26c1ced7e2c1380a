"""Where the bundled files (cfg/, data/, the demo model) are found.

The repository keeps Darknet's layout: `cfg/` and `data/` at the top, beside `darkpy/`. A wheel
carries the same two folders inside the package as `darkpy/_bundled/cfg` and
`darkpy/_bundled/data` (setup.py maps them there), so an installed darkpy works from any folder.
This module is the one place that knows both layouts; every other module asks here.

User paths follow Darknet's rule first (relative to the working directory) and fall back to the
bundled copy, so `darkpy summary cfg/yolov2-voc.cfg` works in a checkout, in a copy of its files
and from an installed wheel alike."""
from __future__ import annotations

from pathlib import Path

#: the top-level folders that are bundled; only paths under these fall back to the bundle
BUNDLED_DIRS = ("cfg", "data")

_CHECKOUT = Path(__file__).resolve().parents[1]


def _root() -> Path:
    # A wheel install has darkpy/_bundled; a checkout (editable install, PYTHONPATH) has the
    # folders beside the package. Wheels are installed unpacked, so the package folder is a real
    # path (found from this file: importlib.resources would cost a zipfile import at every start).
    packaged = Path(__file__).resolve().parent / "_bundled"
    return packaged if (packaged / "cfg").is_dir() else _CHECKOUT


ROOT = _root()


def asset(relative: str | Path) -> Path:
    """Path of a bundled file given relative to the project root (`cfg/demo.cfg`, `data/9k.tree`)."""
    return ROOT / relative


def bundled(path: str | Path) -> Path | None:
    """The bundled file or folder a relative path like `cfg/yolov2-voc.cfg` names, or None."""
    p = Path(path)
    if p.is_absolute() or not p.parts or p.parts[0] not in BUNDLED_DIRS:
        return None
    candidate = ROOT / p
    return candidate if candidate.exists() else None


def locate(path: str | Path) -> Path:
    """A path to read: as given when it exists (Darknet resolves against the working directory),
    else the bundled copy of the same relative name, else unchanged so that the caller's
    "not found" error names what the user wrote."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    return bundled(p) or p
