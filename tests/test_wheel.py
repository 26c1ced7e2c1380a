"""A wheel install (not only `pip install -e`) finds the bundled cfgs, names, trees, sample
images and the demo model: build a wheel from a copy of the sources, install it into a fresh
venv outside the checkout, and run the CLI from an unrelated folder without PYTHONPATH.

Offline: the wheel is built without build isolation (setuptools from this interpreter), and the
new venv reuses this interpreter's installed dependencies (torch, numpy, ...) through a .pth
file instead of downloading them."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["darkpy", "cfg", "data", "setup.py", "pyproject.toml", "README.md"]
MAX_WHEEL_MB = 20


def _setuptools_version() -> tuple[int, ...]:
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return (0,)
    return tuple(int(p) for p in version.split(".")[:2] if p.isdigit())


# the wheel is built offline with this interpreter's setuptools (scripts/quickstart.sh installs it)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    _setuptools_version() < (70, 1), reason="building the wheel offline needs setuptools >= 70.1 installed")]


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{cmd} exited {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")

    # a clean copy: an in-tree build would leave build/ behind and could pick up stale files
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src], tmp, env)
    (wheel,) = dist.glob("darkpy-*.whl")

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp, env)
    vpy = venv / "bin" / "python"
    purelib = Path(run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env)
                   .stdout.strip())
    # the dependencies this interpreter already has; appended after the venv's own site-packages,
    # so the wheel's darkpy comes first even where a checkout is installed there in editable mode
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_darkpy_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    run([sys.executable, "-m", "pip", "--python", vpy, "install", "--no-deps", "--no-index", "--ignore-installed", wheel], tmp, env)

    elsewhere = tmp / "elsewhere"   # no cfg/, no data/: everything must come from the wheel
    elsewhere.mkdir()
    return {"wheel": wheel, "venv": venv, "python": vpy, "darkpy": venv / "bin" / "darkpy", "cwd": elsewhere,
            "env": env}


def test_wheel_ships_the_bundled_files_and_no_tests(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for f in ["darkpy/_bundled/cfg/yolov2-voc.cfg", "darkpy/_bundled/cfg/voc.data", "darkpy/_bundled/data/9k.tree",
              "darkpy/_bundled/data/coco.names", "darkpy/_bundled/data/demo/demo.weights",
              "darkpy/_bundled/data/demo/images/001995.jpg", "darkpy/_bundled/data/demo/labels/001995.txt",
              "darkpy/_bundled/data/dog.jpg", "darkpy/cli/commands/detect.py"]:
        assert f in names, f
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or "golden" in n]
    assert installed["wheel"].stat().st_size < MAX_WHEEL_MB * 1e6


def test_installed_package_is_the_wheel_not_the_checkout(installed):
    out = run([installed["python"], "-c", "import darkpy, darkpy.assets as a; print(darkpy.__file__); print(a.ROOT)"],
              installed["cwd"], installed["env"]).stdout.split()
    assert Path(out[0]).is_relative_to(installed["venv"]), out
    assert Path(out[1]).is_relative_to(installed["venv"]) and out[1].endswith("_bundled"), out


def test_detect_runs_the_bundled_model_on_a_bundled_image(installed):
    cwd = installed["cwd"]
    res = run([installed["darkpy"], "detect", "data/demo/images/001995.jpg", "--out", "out.jpg"], cwd,
              installed["env"])
    assert "Predicted in" in res.stdout and "circle" in res.stdout
    assert (cwd / "out.jpg").stat().st_size > 0
    res = run([installed["darkpy"], "detect", "data/demo/images", "--out", "preds"], cwd, installed["env"])
    assert len(list((cwd / "preds").glob("*.jpg"))) == 12


def test_bundled_cfgs_trees_and_data_files_by_their_relative_names(installed):
    cwd, env, darkpy = installed["cwd"], installed["env"], installed["darkpy"]
    assert "29.360" in run([darkpy, "summary", "cfg/yolov2-voc.cfg"], cwd, env).stdout
    # yolo9000.cfg names tree=data/9k.tree: found in the bundle too
    assert "28269" in run([darkpy, "summary", "cfg/yolo9000.cfg"], cwd, env).stdout
    assert "dog" in run([darkpy, "wordtree", "show", "data/9k.tree", "--wnid", "n02084071"], cwd, env).stdout
    # cfg/voc.data says names=data/voc.names: resolved from the bundle as well
    res = run([darkpy, "detect", "data/dog.jpg", "--cfg", "cfg/demo.cfg", "--weights", "data/demo/demo.weights",
               "--names", "data/demo/demo.names", "--json", "--no-save"], cwd, env)
    assert '"image"' in res.stdout
    res = run([installed["python"], "-c", "from darkpy.formats.datafile import read_data_file, read_names; "
               "print(len(read_names(read_data_file('cfg/voc.data').resolve('names'))))"], cwd, env)
    assert res.stdout.strip() == "20"


def test_bundled_data_file_list_and_labels_score_the_demo_model(installed):
    """data/demo/demo.data names valid=data/demo/valid.txt, whose entries (and their labels) are
    bundled too: `darkpy map` scores the demo model from any folder."""
    cwd = installed["cwd"]
    res = run([installed["darkpy"], "map", "data/demo/demo.data", "cfg/demo.cfg", "data/demo/demo.weights",
               "--out", "runs", "--metric", "voc", "--precision", "fp32"], cwd, installed["env"])
    assert "mAP VOC area = 0.8898" in res.stdout
    assert (cwd / "runs" / "map.json").is_file()
