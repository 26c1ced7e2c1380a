"""`python -m darkpy kmeans ...` with plain options skips typer (darkpy.__main__): its output,
errors and help must be the typer command's, byte for byte."""
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from darkpy.__main__ import KMEANS_FLAGS, KMEANS_OPTIONS, kmeans_arguments
from darkpy.anchors.command import run_kmeans

REPO = Path(__file__).resolve().parents[2]


def _typer_command():
    import typer.main

    from darkpy.cli import app, load_commands

    load_commands()
    group = typer.main.get_command(app)
    return group.commands["kmeans"]


def test_the_option_table_is_the_typer_commands():
    command = _typer_command()
    table = {}
    for param in command.params:
        for opt in param.opts + param.secondary_opts:
            table[opt] = param.name
    mine = {opt: key for opt, (key, _) in KMEANS_OPTIONS.items()} | dict(KMEANS_FLAGS)
    assert mine == table
    # the defaults run_kmeans applies when an option is not given are the typer command's
    defaults = {name: p.default for name, p in inspect.signature(run_kmeans).parameters.items()}
    assert defaults == {param.name: param.default for param in command.params}
    # and each value is converted to the type the typer command declares
    import typing

    from darkpy.cli.commands.kmeans import kmeans

    hints = typing.get_type_hints(kmeans)
    kinds = {"int": int, "float": float, "path": Path, "str": str}
    for opt, (key, kind) in KMEANS_OPTIONS.items():
        assert hints[key] in (kinds[kind], typing.Optional[kinds[kind]]), (opt, hints[key])
    for key in KMEANS_FLAGS.values():
        assert hints[key] is bool


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--k"], ["--k", "-3"], ["--k", "x"], ["--k", "+3"], ["-k5"], ["--data"],
    ["--nope", "1"], ["--median=yes"], ["extra"], ["--", "--k", "3"], ["--data", ""], ["--stride", "1e3"],
    ["--seed", "-1"], ["--k=", "3"], ["--units", "-grid"],
])
def test_anything_not_plain_goes_to_typer(args):
    assert kmeans_arguments(args) is None


def test_plain_options_parse_as_click_does():
    got = kmeans_arguments(["--k", "7", "-k", "3", "--data=a.data", "--median", "--stride", "16.5",
                            "--units", "pixels", "--no-cache", "--write-cfg", "x.cfg", "--max-iter=20"])
    assert got == {"k": 3, "data": Path("a.data"), "median": True, "stride": 16.5, "units": "pixels",
                   "no_cache": True, "write_cfg": Path("x.cfg"), "max_iter": 20}


@pytest.fixture
def labels(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "labels").mkdir()
    images = []
    for i in range(60):
        shapes = rng.uniform(0.02, 0.9, (3, 2))
        (tmp_path / "labels" / f"{i}.txt").write_text(
            "".join(f"{i % 3} 0.5 0.5 {w:.6f} {h:.6f}\n" for w, h in shapes))
        images.append(str(tmp_path / "images" / f"{i}.jpg"))
    (tmp_path / "train.txt").write_text("\n".join(images) + "\n")
    (tmp_path / "obj.data").write_text(f"classes = 3\ntrain = {tmp_path / 'train.txt'}\n")
    return tmp_path


def _run(mode, args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("COLUMNS", None)
    code = ("import sys; from darkpy.cli import main; sys.argv[0] = 'darkpy'; main()" if mode == "typer"
            else "import runpy, sys; sys.argv[0] = 'darkpy'; runpy.run_module('darkpy', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code, "kmeans", *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("args", [
    lambda d: ["--data", d / "obj.data", "--k", "4", "--restarts", "3"],
    lambda d: ["--labels", d / "labels", "-k", "3", "--units", "pixels", "--size", "320", "--no-cache"],
    lambda d: ["--data", d / "obj.data", "--k", "400"],                           # an error
    lambda d: ["--k", "3"],                                                       # another
    lambda d: ["--data", d / "obj.data", "--k", "3", "--units", "inches"],         # another
    lambda d: ["--data", d / "obj.data", "--k", "x"],                             # typer's own error
    lambda d: ["--help"],
], ids=["data", "labels", "k-too-big", "no-source", "bad-units", "bad-int", "help"])
def test_the_short_path_prints_what_typer_prints(labels, args):
    argv = args(labels)
    typer_run = _run("typer", argv, labels)
    short_run = _run("short", argv, labels)
    assert short_run == typer_run
    assert typer_run[0] in (0, 2)


def test_no_cache_writes_no_cache_file(labels, tmp_path, monkeypatch):
    folder = tmp_path / "cache-here"
    monkeypatch.setenv("DARKPY_CACHE_DIR", str(folder))
    code, out, _ = _run("short", ["--data", labels / "obj.data", "--k", "3", "--no-cache"], labels)
    assert code == 0 and not folder.exists()
    code, out2, _ = _run("short", ["--data", labels / "obj.data", "--k", "3"], labels)
    assert code == 0 and len(list(folder.glob("*.npy"))) == 1
    code, out3, _ = _run("short", ["--data", labels / "obj.data", "--k", "3"], labels)
    assert out == out2 == out3


def test_the_short_path_loads_neither_typer_nor_torch(labels):
    """What makes it short: the console entry (`darkpy.__main__.run`, with its exit handling)
    imports no typer, click or torch for a plain `kmeans`."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = ("import atexit, sys; sys.argv = ['darkpy', 'kmeans', '--data', sys.argv[1], '--k', '3']\n"
            "atexit.register(lambda: print(sorted(m for m in ('typer', 'click', 'torch') if m in sys.modules),"
            " file=sys.stderr))\n"
            "from darkpy.__main__ import run\nrun()\n")
    r = subprocess.run([sys.executable, "-c", code, str(labels / "obj.data")], cwd=labels, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "[]"
