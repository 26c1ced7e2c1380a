"""darkpy's import graph: no cycles, and no imports hidden inside functions to dodge them.

An AST walk over darkpy/ collects every `import darkpy...` / `from darkpy... import ...`, at
module level and inside functions (imports under `if TYPE_CHECKING:` are type-only and left
out). `from darkpy.a import b` counts as an import of `darkpy.a.b` when that is a module, else of
`darkpy.a`. Importing a submodule also runs its package's `__init__`; that implicit edge is not
counted (package `__init__` files only re-export).

On top of the module graph, the packages form a one-way stack: ALLOWED says which packages each
package may import (docs/architecture.md shows the same table, and a test keeps the two equal)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "darkpy"

# Imports of darkpy modules that stay inside functions, each for start-up speed: a command
# module is imported when its command runs, not when `darkpy --help` lists the commands; a
# heavy module (torch and what it pulls in) only when the one path needing it runs.
LAZY_ALLOWED = {
    "darkpy.cli": "the CLI imports command modules (and their libraries) only when one runs",
    "darkpy.cli.commands": "thin typer commands import their library when the command runs (fast --help)",
    "darkpy:__getattr__": "`import darkpy` stays light; the network API (torch) loads on first use",
    "darkpy.__main__": "entry point",
    "darkpy.anchors.cfgedit": "the cfg reader and layer specs (darkpy.net) load when a cfg is read or written: "
                              "`kmeans` on labels alone starts without them",
    "darkpy.anchors.command:_plot": "the chart module only for `kmeans --sweep`",
    "darkpy.detect.decode:decode_region": "WordTree decoding (torch) only for a tree= region layer: the torch-free "
                                          "engine decodes through this module",
    "darkpy.detect.decode:decode_mapped": "WordTree class maps (torch) only when a map= file is given",
    "darkpy.detect.numpy_engine:detector_for": "the torch Detector only for a torch network: recall, valid and "
                                               "map run the numpy engine without importing torch",
    "darkpy.classify.validate:scorer": "the torch scorer only for a torch network: `classifier valid` on the "
                                       "numpy engine runs without importing torch",
}


# The top-level modules every package may use; together they are the package "core".
CORE = {"errors", "fileio", "assets", "device", "charts", "boxes", "heap"}

# The package map, bottom to top: package -> the packages it may import (module-level or inside a
# function alike). "darkpy" is the root package's lazily loaded public API (`darkpy.Detector`);
# `darkpy.__main__` belongs to cli.
_BELOW = ["core", "formats", "wordtree", "net", "anchors", "data", "detect", "eval", "classify", "train",
          "serve"]
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "formats": {"core"},
    "wordtree": {"core", "formats"},
    "net": {"core", "formats", "wordtree"},
    "anchors": {"core", "formats", "wordtree", "net"},
    "data": {"core", "formats", "wordtree", "net"},
    "detect": {"core", "formats", "wordtree", "net", "anchors", "data"},
    "eval": {"core", "formats", "wordtree", "net", "anchors", "data", "detect"},
    "classify": {"core", "formats", "wordtree", "net", "anchors", "data", "detect", "eval"},
    "train": {"core", "formats", "wordtree", "net", "anchors", "data", "detect", "eval", "classify"},
    "serve": {"core", "formats", "wordtree", "net", "anchors", "data", "detect"},
    "darkpy": set(_BELOW),
    "cli": set(_BELOW) | {"darkpy"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _target(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path):
    """(imported module, function name or None, line) for every darkpy import of `module`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, func)
                continue
            inner = func
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = child.name if func is None else func
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "darkpy":
                        found.append((_target(alias.name), inner, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")
                    up = up[: len(up) - (child.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                if base.split(".")[0] != "darkpy":
                    continue
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    found.append((full if full in MODULES else _target(base), inner, child.lineno))
            visit(child, inner)

    visit(tree, None)
    return [(t, f, line) for t, f, line in found if t and t != module]


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-loop)."""
    edges = {m: sorted({t for t, _, _ in imps}) for m, imps in GRAPH.items()}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def _allowed(module: str, func: str) -> bool:
    return any(module == key or (":" not in key and module.startswith(key + ".")) or f"{module}:{func}" == key
               for key in LAZY_ALLOWED)


def test_the_walk_sees_the_package():
    assert "darkpy.net.model" in MODULES and "darkpy.net.cfg" in {t for t, _, _ in GRAPH["darkpy.net.model"]}


def test_no_import_cycles():
    cycles = _cycles()
    assert not cycles, "import cycles (module-level and function-level imports):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_function_level_imports_of_darkpy_modules():
    hidden = sorted({f"{m}:{line} ({func}) imports {t}" for m, imps in GRAPH.items() for t, func, line in imps
                     if func is not None and not _allowed(m, func)})
    assert not hidden, "imports inside functions (move them to the top, or add to LAZY_ALLOWED with a reason):\n" \
        + "\n".join(sorted(hidden))


def _package(module: str) -> str:
    """The package-map entry of a darkpy module (see ALLOWED)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "darkpy"
    if parts[1] == "__main__":
        return "cli"
    if len(parts) == 2 and not (PACKAGE / parts[1]).is_dir():
        return "core" if parts[1] in CORE else f"darkpy.{parts[1]} (undeclared top-level module)"
    return parts[1]


def _package_edges() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) -> the `module:line -> module` imports behind it."""
    edges: dict[tuple[str, str], set[str]] = {}
    for m, imps in GRAPH.items():
        for t, _, line in imps:
            a, b = _package(m), _package(t)
            if a != b:
                edges.setdefault((a, b), set()).add(f"{m}:{line} -> {t}")
    return {k: sorted(v) for k, v in edges.items()}


def _package_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the package graph, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(p):
        state[p] = 1
        path.append(p)
        for q in sorted(graph.get(p, ())):
            if state.get(q) == 1:
                return path[path.index(q):] + [q]
            if q not in state and (found := visit(q)):
                return found
        state[p] = 2
        path.pop()
        return None

    for p in sorted(graph):
        if p not in state and (found := visit(p)):
            return found
    return None


def test_every_package_is_on_the_map():
    packages = {_package(m) for m in MODULES}
    assert packages <= set(ALLOWED), f"packages missing from ALLOWED (and docs/architecture.md): " \
        f"{sorted(packages - set(ALLOWED))}"
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} <= set(ALLOWED)


def test_the_map_is_a_one_way_stack():
    assert _package_cycle(ALLOWED) is None, _package_cycle(ALLOWED)


def test_packages_import_only_what_the_map_allows():
    bad = [f"{a} may not import {b}: " + ", ".join(uses) for (a, b), uses in sorted(_package_edges().items())
           if b not in ALLOWED.get(a, set())]
    assert not bad, "imports against the package map (move the function down, or change the map in " \
        "tests/test_imports.py and docs/architecture.md):\n" + "\n".join(bad)


def test_no_package_level_cycle():
    graph: dict[str, set[str]] = {}
    for a, b in _package_edges():
        graph.setdefault(a, set()).add(b)
    assert _package_cycle(graph) is None, " -> ".join(_package_cycle(graph))


def test_detection_inference_does_not_depend_on_training():
    uses = _package_edges().get(("detect", "train"), [])
    assert not uses, "darkpy.detect is inference only:\n" + "\n".join(uses)


def test_wordtree_sits_below_the_network():
    edges = _package_edges()
    uses = [u for p in ("net", "detect", "train", "classify", "eval") for u in edges.get(("wordtree", p), [])]
    assert not uses, "darkpy.wordtree imports nothing from net, detect, train, classify or eval:\n" + "\n".join(uses)


def test_the_walk_sees_package_edges():
    edges = _package_edges()
    assert ("train", "net") in edges and ("net", "wordtree") in edges and ("cli", "darkpy") in edges


def _documented_map() -> dict[str, set[str]]:
    """The 'may import' column of the table in docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (m := re.fullmatch(r"`([\w.]+)`.*", cells[0])):
            table[m.group(1)] = set(re.findall(r"`([\w.]+)`", cells[2]))
    return table


def test_the_architecture_page_shows_the_enforced_map():
    assert _documented_map() == ALLOWED
