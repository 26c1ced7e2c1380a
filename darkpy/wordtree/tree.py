"""WordTree files (`*.tree`), as YOLO9000 uses them.

A tree file lists one node per line, `name parent_index` (-1 for a top-level node). Nodes that
share a parent must be consecutive: each such run is a *group*, and the hierarchical softmax is a
softmax inside every group. Group 0 is the top level. Darknet numbers groups in file order; so
do we, so that `child[i]` (the group holding node i's children) matches Darknet's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from darkpy.assets import locate
from darkpy.errors import DataError
from darkpy.fileio import open_regular, write_text_atomic


@dataclass
class Tree:
    names: list[str]
    parent: np.ndarray        # (n,) int: parent node, -1 at the top level
    group: np.ndarray         # (n,) int: the group each node belongs to
    group_offset: np.ndarray  # (groups,) first node of each group
    group_size: np.ndarray    # (groups,) nodes in each group
    child: np.ndarray         # (n,) int: group of node's children, -1 for a leaf
    leaf: np.ndarray          # (n,) bool

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def groups(self) -> int:
        return len(self.group_size)

    def path_to_root(self, node: int) -> list[int]:
        """`node`, its parent, ..., a top-level node."""
        path = []
        while node >= 0:
            path.append(int(node))
            node = int(self.parent[node])
        return path

    def depth(self) -> np.ndarray:
        """Depth of every node (top level = 1); parents precede children, so one pass suffices."""
        depth = np.ones(self.n, dtype=np.int64)
        for i in range(self.n):
            if self.parent[i] >= 0:
                depth[i] = depth[self.parent[i]] + 1
        return depth

    def ancestors_mask(self) -> np.ndarray:
        """(n, n) bool: row i marks i and all its ancestors (used by tree-softmax training)."""
        mask = np.zeros((self.n, self.n), dtype=bool)
        for i in range(self.n):
            p = int(self.parent[i])
            if p >= 0:
                mask[i] = mask[p]
            mask[i, i] = True
        return mask


def build_tree(names: list[str], parent: list[int] | np.ndarray, source: str | Path = "<tree>") -> Tree:
    """Group and validate nodes; errors name the source and the offending line (1-based)."""
    parent = np.asarray(parent, dtype=np.int64)
    n = len(names)
    if n == 0:
        raise DataError("tree has no nodes", file=source)
    seen_parents: dict[int, int] = {}
    group = np.zeros(n, dtype=np.int64)
    offsets: list[int] = [0]
    g = 0
    for i in range(n):
        p = int(parent[i])
        if p < -1 or p >= i:
            why = "is not an earlier node" if p >= i else "is negative"
            raise DataError(f"node {names[i]!r}: parent {p} {why} (parents must come before children)",
                            file=source, line=i + 1)
        if i > 0 and p != int(parent[i - 1]):
            if p in seen_parents:
                raise DataError(f"node {names[i]!r}: children of parent {p} are not contiguous "
                                f"(also at line {seen_parents[p] + 1})", file=source, line=i + 1)
            g += 1
            offsets.append(i)
        seen_parents.setdefault(p, i)
        group[i] = g
    group_offset = np.asarray(offsets, dtype=np.int64)
    group_size = np.diff(np.append(group_offset, n))
    child = np.full(n, -1, dtype=np.int64)
    has_parent = parent >= 0
    child[parent[has_parent]] = group[has_parent]
    leaf = child < 0
    return Tree(list(names), parent, group, group_offset, group_size, child, leaf)


def _read_tree_lines(path: Path) -> tuple[list[str], list[int], list[int]]:
    """Names, parent indices and the 1-based line number of each node."""
    try:
        with open_regular(path, "tree file", DataError, "r", encoding="utf-8", errors="replace", newline="") as fh:
            text = fh.read()
    except OSError as exc:
        raise DataError(f"cannot read tree file: {exc.strerror}", file=path) from None
    names: list[str] = []
    parents: list[int] = []
    lines: list[int] = []
    for number, raw in enumerate(text.split("\n"), 1):  # Darknet's fgetl lines
        fields = raw.split()
        if not fields:
            continue
        if len(fields) > 2:
            raise DataError(f"expected 'name parent', got {raw.strip()!r}", file=path, line=number)
        try:
            parents.append(int(fields[1]) if len(fields) == 2 else -1)
        except ValueError:
            raise DataError(f"parent index {fields[1]!r} is not an integer", file=path, line=number) from None
        names.append(fields[0])
        lines.append(number)
    return names, parents, lines


def read_tree(path: str | Path) -> Tree:
    path = locate(path)
    names, parents, _ = _read_tree_lines(path)
    return build_tree(names, parents, path)


def check_tree(path: str | Path) -> Tree:
    """`read_tree` plus the checks a hand-edited file needs: parents out of range, cycles and
    repeated names are named as such (with their line) rather than as a misordering."""
    path = locate(path)
    names, parents, lines = _read_tree_lines(path)
    n = len(names)
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise DataError(f"node {name!r} is listed twice (first at line {lines[first[name]]})",
                            file=path, line=lines[i])
        first[name] = i
    for i, p in enumerate(parents):
        if p < -1 or p >= n:
            raise DataError(f"node {names[i]!r}: parent {p} is out of range (the file has {n} nodes)",
                            file=path, line=lines[i])
    state = [0] * n  # 0 unvisited, 1 on the current walk, 2 known to reach the top
    for start in range(n):
        walk = []
        node = start
        while node >= 0 and state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = parents[node]
        if node >= 0 and state[node] == 1:
            cycle = walk[walk.index(node):]
            shown = " -> ".join(names[k] for k in cycle + [node])
            raise DataError(f"parents form a cycle: {shown}", file=path, line=lines[min(cycle)])
        for k in walk:
            state[k] = 2
    if lines != list(range(1, n + 1)):
        # blank lines shift numbering: report errors against the file's own lines
        try:
            return build_tree(names, parents, path)
        except DataError as exc:
            if exc.line is not None:
                exc.line = lines[exc.line - 1]
            raise
    return build_tree(names, parents, path)


def write_tree(tree: Tree, path: str | Path) -> None:
    write_text_atomic(path, "".join(f"{name} {int(p)}\n" for name, p in zip(tree.names, tree.parent)))


def tree_stats(tree: Tree) -> dict[str, int]:
    """The numbers people compare trees by (`darkpy wordtree show`)."""
    largest = int(np.argmax(tree.group_size))
    return {
        "nodes": tree.n,
        "groups": tree.groups,
        "top_level": int(tree.group_size[0]),
        "depth": int(tree.depth().max()),
        "leaves": int(tree.leaf.sum()),
        "largest_group": largest,
        "largest_group_size": int(tree.group_size[largest]),
    }
