"""The shell examples of README.md and docs/*.md run as written (convention: docs/index.md,
"Writing docs"): every ```console block, in a fresh folder with copies of cfg/ and data/, each
`$ ` command exiting 0. Docs that lie are worse than no docs."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK_LIMIT_S = 180
# what a console line may start with: darkpy, this interpreter, and offline file tools
TOOLS = {"darkpy", "python", "cp", "mv", "rm", "ls", "cat", "cmp", "diff", "head", "tail", "wc", "grep", "find",
         "mkdir", "cd", "test", "echo", "printf", "touch", "sed", "sort"}
README_MAX_LINES = 250

FENCE = re.compile(r"^```(\S*)\s*$")
NEED = re.compile(r"^<!--\s*needs:\s*([\w, -]+?)\s*-->\s*$")


def _wordnet_present() -> bool:
    try:
        from darkpy.wordtree.wordnet import WordNet

        WordNet(None)
        return True
    except Exception:  # any failure to locate the database means "not here"
        return False


# A need is a name in `<!-- needs: NAME -->` before a block and a check that it is met here.
NEEDS = {
    "wordnet": _wordnet_present,
    "onnx": lambda: all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime")),
}


@dataclass
class Block:
    page: Path
    line: int            # line of the opening fence
    commands: list[str]  # one per `$ ` line, continuations joined
    needs: list[str]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def console_blocks(path: Path) -> list[Block]:
    """Every ```console block of a markdown page with its commands and declared needs."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang == "console":
            need = NEED.match(lines[start - 1]) if start > 0 else None
            needs = [n.strip() for n in need.group(1).split(",")] if need else []
            commands: list[str] = []
            body = lines[start + 1:j]
            k = 0
            while k < len(body):
                if body[k].startswith("$ "):
                    cmd = body[k][2:]
                    while cmd.endswith("\\") and k + 1 < len(body):
                        k += 1
                        cmd = cmd[:-1] + " " + body[k].strip()
                    commands.append(cmd)
                k += 1
            blocks.append(Block(path, start + 1, commands, needs))
        i = j + 1
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in console_blocks(page)]


def test_console_blocks_are_well_formed():
    assert ALL_BLOCKS, "no console examples found"
    for b in ALL_BLOCKS:
        assert b.commands, f"{b.id}: a console block needs at least one '$ ' command line"
        unknown = [n for n in b.needs if n not in NEEDS]
        assert not unknown, f"{b.id}: unknown need(s) {unknown}; known: {sorted(NEEDS)}"
        for cmd in b.commands:
            assert cmd.split()[0] in TOOLS, \
                f"{b.id}: '{cmd}' starts with none of {sorted(TOOLS)} (offline tools; extend TOOLS if needed)"


def test_readme_stays_short():
    n = len((REPO / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move reference material to docs/"


def test_relative_links_between_pages_resolve():
    """A link to another page or file of the repository points at something that exists.
    Pages other sessions add (weights.md, ...) may be listed in index.md before they land, so only
    links written as markdown links are checked, and only to files under the repository."""
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.relative_to(REPO)} -> {target}")
    assert not missing, missing


@pytest.fixture(scope="module")
def darkpy_bin(tmp_path_factory) -> Path:
    """`darkpy` and `python` executables that run this checkout with this interpreter."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, line in (("darkpy", f'exec "{sys.executable}" -m darkpy "$@"'),
                       ("python", f'exec "{sys.executable}" "$@"')):
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\n{line}\n")
        exe.chmod(0o755)
    return bin_dir


@pytest.mark.slow
@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.id)
def test_console_example_runs(block: Block, darkpy_bin: Path, tmp_path: Path):
    for need in block.needs:
        if not NEEDS[need]():
            pytest.skip(f"needs {need}")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(REPO / "cfg", work / "cfg")
    shutil.copytree(REPO / "data", work / "data")
    (work / "tests").symlink_to(REPO / "tests", target_is_directory=True)
    env = dict(os.environ)
    env["PATH"] = f"{darkpy_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env.pop("DISPLAY", None)  # detect --source never opens a window here
    script = "set -ex\n" + "\n".join(block.commands) + "\n"
    try:
        res = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                             timeout=BLOCK_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: took more than {BLOCK_LIMIT_S} s")
    assert res.returncode == 0, (f"{block.id}: exit {res.returncode}\n--- script\n{script}"
                                 f"--- stdout (tail)\n{res.stdout[-3000:]}\n--- stderr (tail)\n{res.stderr[-3000:]}")
