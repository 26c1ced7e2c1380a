"""The shell examples of README.md and docs/*.md run as written and print what the page shows
(convention: docs/index.md, "Writing docs"): every ```console block runs in a fresh folder with
copies of cfg/ and data/, each `$ ` command exiting 0, and the lines a page shows under a command
are compared with what that command printed (stdout and stderr together, as a terminal 160
columns wide shows them). Docs that lie are worse than no docs.

How a page shows output (the lines under a `$ ` command, up to the next one):
- a line `...` alone stands for any number of lines (elided output);
- the shown lines between two `...` must appear in the output as consecutive lines, and the
  groups in the page's order; output before the first and after the last shown line may be left
  out without a `...`;
- within a line, runs of spaces match any run of spaces (tables), and a placeholder `<word>`
  (lower-case letters, digits, spaces, `-` or `_` between angle brackets: `<time>`, `<path>`,
  `<rate>`) matches any non-empty text: use one for what changes from run to run (timings,
  absolute paths, throughput), never for a number the reader should be able to reproduce.
"""
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


PLACEHOLDER = re.compile(r"<[a-z0-9][a-z0-9 _-]*>")
ELISION = "..."


@dataclass
class Block:
    page: Path
    line: int            # line of the opening fence
    commands: list[str]  # one per `$ ` line, continuations joined
    needs: list[str]
    shown: list[list[str]] = None  # per command, the output lines the page shows under it

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
            shown: list[list[str]] = []
            body = lines[start + 1:j]
            k = 0
            while k < len(body):
                if body[k].startswith("$ "):
                    cmd = body[k][2:]
                    while cmd.endswith("\\") and k + 1 < len(body):
                        k += 1
                        cmd = cmd[:-1] + " " + body[k].strip()
                    commands.append(cmd)
                    shown.append([])
                elif shown:
                    shown[-1].append(body[k])
                k += 1
            blocks.append(Block(path, start + 1, commands, needs, shown))
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


def line_pattern(shown: str) -> re.Pattern:
    """The regular expression a shown output line stands for (see the module doc)."""
    parts, at = [], 0
    text = shown.rstrip()
    for m in PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[at:m.start()]))
        parts.append(".+?")
        at = m.end()
    parts.append(re.escape(text[at:]))
    pattern = "".join(parts)
    pattern = re.sub(r"(\\ )+", r"\\s+", pattern)  # re.escape writes a space as '\ '
    return re.compile(pattern)


def output_differs(shown: list[str], printed: list[str]) -> str | None:
    """None when `printed` shows what `shown` says (module doc), else the first line not found."""
    groups: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELISION:
            groups.append([])
        elif line.strip():
            groups[-1].append(line)
    printed = [p.rstrip() for p in printed]
    at = 0
    for group in groups:
        if not group:
            continue
        patterns = [line_pattern(g) for g in group]
        found = None
        for start in range(at, len(printed) - len(group) + 1):
            if all(p.fullmatch(printed[start + i]) for i, p in enumerate(patterns)):
                found = start
                break
        if found is None:
            for i, p in enumerate(patterns):  # name the first line of the group that is missing
                if not any(p.fullmatch(x) for x in printed[at:]):
                    return group[i]
            return group[0] + "  (the group's lines are not consecutive in the output)"
        at = found + len(group)
    return None


def test_output_matching_rules():
    printed = ["data/a.jpg: Predicted in 0.041334 seconds.", "square: 91%", "triangle:  30%", "darkpy: done"]
    assert output_differs(["data/a.jpg: Predicted in <time> seconds.", "square: 91%"], printed) is None
    assert output_differs(["square: 91%", "...", "darkpy: done"], printed) is None
    assert output_differs(["triangle: 30%"], printed) is None
    assert output_differs(["square: 89%"], printed) == "square: 89%"
    assert output_differs(["square: 91%", "darkpy: done"], printed) is not None
    assert output_differs(["darkpy: done", "...", "square: 91%"], printed) == "square: 91%"


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
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as on a terminal
    env["COLUMNS"] = str(TERMINAL_COLUMNS)  # rich and ls lay out for a terminal this wide
    # `ls` in columns, as on a terminal (piped, it would print one name per line)
    script = "set -e\nexec 2>&1\nls() { command ls -C \"$@\"; }\n" + "".join(f"echo '{MARK}{i}'\n{cmd}\n" for i, cmd in enumerate(block.commands))
    try:
        res = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True,
                             timeout=BLOCK_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: took more than {BLOCK_LIMIT_S} s")
    assert res.returncode == 0, (f"{block.id}: exit {res.returncode}\n--- script\n{script}"
                                 f"--- output (tail)\n{res.stdout[-3000:]}")
    printed: list[list[str]] = []
    for line in res.stdout.splitlines():
        if line.startswith(MARK):
            printed.append([])
        elif printed:
            printed[-1].append(line)
    for cmd, shown, out in zip(block.commands, block.shown, printed):
        missing = output_differs(shown, out)
        assert missing is None, (f"{block.id}: `$ {cmd}` did not print\n  {missing}\n--- it printed\n"
                                 + "\n".join(out[-60:]))


MARK = "@@darkpy-docs-command "
TERMINAL_COLUMNS = 160
