"""A WordTree described in lines: its statistics, how it covers concept lists, what a build
left out or placed oddly, and a node's path to the top level (`darkpy wordtree build|show`)."""
from __future__ import annotations

from typing import Optional, Sequence

from darkpy.wordtree.builder import BuildResult, LabelList, coverage
from darkpy.wordtree.tree import Tree, tree_stats


def _first_ten(items: Sequence[str]) -> str:
    return f"{' '.join(items[:10])}{' ...' if len(items) > 10 else ''}"


def stats_lines(tree: Tree, names: Optional[list[str]] = None) -> list[str]:
    """Nodes, groups, top level, depth, leaves and the largest group (named by its parent)."""
    s = tree_stats(tree)
    label = (lambda i: f"{tree.names[i]} ({names[i]})") if names else (lambda i: tree.names[i])
    largest = s["largest_group"]
    parent = int(tree.parent[tree.group_offset[largest]])
    owner = "top level" if parent < 0 else f"children of {label(parent)}"
    return [
        f"nodes         {s['nodes']}",
        f"groups        {s['groups']}",
        f"top level     {s['top_level']}",
        f"depth         {s['depth']}",
        f"leaves        {s['leaves']}",
        f"largest group {s['largest_group_size']} ({owner})",
    ]


def coverage_lines(tree: Tree, wnids: set[str], lists: str = "the input lists",
                   wnids_of: str = "input") -> list[str]:
    """Leaves that are not in `wnids` (dangling) and wnids that are not nodes (missing); `lists`
    and `wnids_of` name where the wnids came from. `build` and `show` count alike."""
    loose, absent = coverage(tree, wnids)
    lines = [f"dangling      {len(loose)} (leaves not in {lists})" + (f": {_first_ten(loose)}" if loose else "")]
    if absent:
        lines.append(f"missing       {absent} {wnids_of} wnid(s) are not nodes of the tree")
    return lines


def build_lines(result: BuildResult, lists: list[LabelList], ordered: bool = False) -> list[str]:
    """The account of a build: statistics, multi-path choices (paper build), coverage of its
    lists, and the concepts it left out or adopted under a parent that is not an ancestor."""
    lines = stats_lines(result.tree, result.names)
    if not ordered:
        lines.append(f"multi-path    {result.multi_path} concepts chose among several hypernym paths")
    lines += coverage_lines(result.tree, {w for lst in lists for w in lst.wnids})
    for what, items in (("  not in WordNet   ", result.missing), ("  no path to a root", result.orphans),
                        ("adopted      ", result.adopted)):
        if items:
            lines.append(f"{what} {len(items)}: {_first_ten(items)}"
                         + (" (parent is not a WordNet ancestor)" if items is result.adopted else ""))
    return lines


def path_lines(tree: Tree, node: int, names: Optional[list[str]] = None) -> list[str]:
    """`node`'s path from the top level down, one indented line per node."""
    lines = []
    for depth, i in enumerate(reversed(tree.path_to_root(node))):
        readable = f"  {names[i]}" if names else ""
        lines.append(f"{'  ' * depth}{i} {tree.names[i]}{readable}")
    return lines
