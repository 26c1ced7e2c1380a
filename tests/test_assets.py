"""darkpy.assets: one place resolves the bundled cfg/ and data/ files, in a checkout and in a
wheel (tests/test_wheel.py covers the installed layout end to end)."""
from __future__ import annotations

import ast
from pathlib import Path

import darkpy
from darkpy import assets
from darkpy.net.model import parse_network
from darkpy.formats.datafile import read_data_file

REPO = Path(__file__).resolve().parents[1]


def test_checkout_root_holds_the_bundled_folders():
    assert assets.ROOT == REPO
    assert assets.asset("cfg/demo.cfg").is_file() and assets.asset("data/demo/demo.weights").is_file()


def test_locate_prefers_the_working_directory_then_the_bundle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert assets.locate("cfg/yolov2-voc.cfg") == REPO / "cfg" / "yolov2-voc.cfg"
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "yolov2-voc.cfg").write_text("[net]\n")
    assert assets.locate("cfg/yolov2-voc.cfg") == Path("cfg/yolov2-voc.cfg")   # Darknet's rule first


def test_only_bundled_folders_fall_back_and_missing_paths_stay_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert assets.locate("cfg/no-such.cfg") == Path("cfg/no-such.cfg")
    assert assets.locate("setup.py") == Path("setup.py")          # exists in the repo, but not bundled
    assert assets.locate("tests/conftest.py") == Path("tests/conftest.py")
    assert assets.bundled("/abs/cfg/demo.cfg") is None


def test_bundled_cfg_and_data_file_entries_work_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = parse_network("cfg/demo.cfg")
    assert net.detection_layers
    names = read_data_file("cfg/voc.data").resolve("names")   # names = data/voc.names
    assert names == REPO / "data" / "voc.names"
    assert darkpy.load_network("cfg/demo.cfg", "data/demo/demo.weights").last_load is not None


def test_no_other_module_locates_files_from_its_own_path():
    """Walking `__file__` parents to find cfg/ or data/ breaks in a wheel; assets.py is the one place.
    (A module may use `__file__` for other things, e.g. telling its own warnings apart.)"""
    offenders = []
    for path in (REPO / "darkpy").rglob("*.py"):
        if path.name == "assets.py" and path.parent.name == "darkpy":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        uses_file = any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(tree))
        names_bundle = any(isinstance(n, ast.Constant) and isinstance(n.value, str)
                           and (n.value in ("cfg", "data") or n.value.startswith(("cfg/", "data/")))
                           for n in ast.walk(tree))
        if uses_file and names_bundle:
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, offenders
