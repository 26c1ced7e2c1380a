"""Building a WordTree from WordNet, as the YOLO9000 paper describes ("Hierarchical classification").

WordNet is a graph (a synset can have several hypernyms); YOLO9000 needs a tree. For every
concept we take its hypernym paths up to a root (`physical object` in the paper). Concepts with a
single path are added first; each remaining concept then takes the path that adds the fewest new
nodes to the tree grown so far. A path joins the tree at its lowest node already present, so
every node keeps the parent it was first given and the result is a tree by construction.

Tie-breaks (so that output is deterministic): concepts are handled in input order (first list
first, first occurrence of a wnid wins); among paths adding equally few nodes the shorter path
wins, then the earlier one in WordNet's pointer order.

Tree order: Darknet wants each group (siblings) on consecutive lines and parents before
children. We write the top group first, then, depth-first, each node's whole group of children
followed by its children's groups - the layout of Darknet's own `9k.tree`. Within a group,
children keep the order in which they joined the tree.

`order_tree` is the other mode: keep the nodes and order of an existing labels file (Darknet's
`9k.labels`, which `yolo9000.weights` was trained with) and give each node a WordNet ancestor
among the nodes before it. Parents are chosen jointly (a Viterbi pass: hypernym steps plus one per
group boundary) so that groups stay contiguous; with Darknet's 9k.labels this reproduces Darknet's
own 9k.tree almost line for line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darkpy.errors import DataError
from darkpy.wordtree.tree import Tree, build_tree
from darkpy.wordtree.wordnet import WordNet, parse_wnid
from darkpy.formats.datafile import read_names
from darkpy.fileio import write_text_atomic
from darkpy.wordtree.tree import write_tree

PHYSICAL_OBJECT = "n00002684"


@dataclass
class LabelList:
    """One input list: the wnid of each label, in file order (names kept when given)."""

    source: str
    wnids: list[str]
    names: list[str | None] = field(default_factory=list)


@dataclass
class BuildResult:
    tree: Tree
    names: list[str]                 # readable name per node
    maps: list[list[int]]            # per input list: tree index per label (-1 when skipped)
    missing: list[str]               # input wnids that WordNet does not have
    orphans: list[str]               # input wnids with no hypernym path to a root
    multi_path: int = 0              # concepts that had more than one path
    adopted: list[str] = field(default_factory=list)  # order mode: parent is not a WordNet ancestor


# -- input lists ------------------------------------------------------------------------------


def read_label_list(path: str | Path) -> LabelList:
    """A list of wnids, one per line; a line may also be `name ... wnid` (wnid last)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read label list: {exc.strerror}", file=path) from None
    out = LabelList(str(path), [], [])
    for number, raw in enumerate(lines, 1):
        fields = raw.split()
        if not fields:
            continue
        wnid = parse_wnid(fields[-1])
        if wnid is None:
            raise DataError(f"{raw.strip()!r} is not a WordNet id like n02084071 (or 'name n02084071'); "
                            "for a names file use --map NAMES=WNIDS", file=path, line=number)
        out.wnids.append(wnid)
        out.names.append(" ".join(fields[:-1]) or None)
    if not out.wnids:
        raise DataError("label list is empty", file=path)
    return out


def read_mapped_names(names_path: str | Path, wnids_path: str | Path) -> LabelList:
    """A names file (like coco.names) and a parallel file holding one wnid per name."""
    names = read_names(names_path)
    wnids = read_label_list(wnids_path)
    if len(names) != len(wnids.wnids):
        raise DataError(f"{len(names)} names but {len(wnids.wnids)} wnids in {wnids_path}; "
                        "the two files must be parallel", file=names_path)
    return LabelList(str(names_path), wnids.wnids, list(names))


# -- the paper's build ------------------------------------------------------------------------


def _growth(path: tuple[str, ...], in_tree: dict[str, str | None]) -> int:
    """Nodes `path` would add: those below its lowest node already in the tree."""
    added = 0
    for node in reversed(path):
        if node in in_tree:
            break
        added += 1
    return added


def _add_path(path: tuple[str, ...], in_tree: dict[str, str | None], roots: set[str]) -> None:
    """Attach `path` (root first) at its lowest node already in the tree."""
    for i, node in enumerate(path):
        if node in in_tree:
            continue
        in_tree[node] = path[i - 1] if i > 0 else None
    # roots are top-level nodes whatever path reached them
    for node in path:
        if node in roots:
            in_tree[node] = None


def layout(parent_of: dict[str, str | None], top: list[str]) -> list[str]:
    """Darknet's layout: the top group, then depth-first each node's group of children.

    `parent_of` keeps insertion order, which sets the order of children inside a group."""
    children: dict[str, list[str]] = {}
    for node, parent in parent_of.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)
    order: list[str] = list(top)
    stack = list(reversed(top))
    while stack:
        node = stack.pop()
        kids = children.get(node, [])
        order.extend(kids)
        stack.extend(reversed(kids))
    return order


def build_wordtree(wordnet: WordNet, lists: list[LabelList], roots: list[str] | None = None, *,
                   skip_missing: bool = False, skip_orphans: bool = False) -> BuildResult:
    """The paper's algorithm over every wnid of `lists` (see the module docstring)."""
    roots = list(roots or [PHYSICAL_OBJECT])
    for r in roots:
        if wordnet.synset(r) is None:
            raise DataError(f"root {r} is not a WordNet noun synset")
    concepts: list[str] = []
    seen: set[str] = set()
    for lst in lists:
        for w in lst.wnids:
            if w not in seen:
                seen.add(w)
                concepts.append(w)

    missing = [w for w in concepts if wordnet.synset(w) is None]
    if missing and not skip_missing:
        shown = ", ".join(missing[:10]) + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
        raise DataError(f"{len(missing)} wnid(s) not in WordNet ({wordnet.data_path}): {shown}; "
                        "pass --skip-missing to leave them out")
    missing_set = set(missing)

    root_set = set(roots)
    paths: dict[str, list[tuple[str, ...]]] = {}
    orphans: list[str] = []
    for w in concepts:
        if w in missing_set:
            continue
        found: list[tuple[str, ...]] = []
        for r in roots:
            # a path stops at the first root met going up; longer ones through it are redundant
            found += [p for p in wordnet.hypernym_paths(w, r) if not root_set.intersection(p[1:])]
        if found:
            paths[w] = found
        else:
            orphans.append(w)
    if orphans and not skip_orphans:
        named = ", ".join(f"{w} ({wordnet.synset(w).name})" for w in orphans[:10])
        more = f" (and {len(orphans) - 10} more)" if len(orphans) > 10 else ""
        raise DataError(f"{len(orphans)} concept(s) have no hypernym path to {', '.join(roots)}: "
                        f"{named}{more}; "
                        "add a --root for them or pass --skip-orphans to leave them out")

    in_tree: dict[str, str | None] = {}
    for r in roots:
        in_tree[r] = None
    multi = [w for w in paths if len(paths[w]) > 1]
    for w in paths:
        if len(paths[w]) == 1:
            _add_path(paths[w][0], in_tree, root_set)
    for w in multi:
        best = min(range(len(paths[w])),
                   key=lambda k: (_growth(paths[w][k], in_tree), len(paths[w][k]), k))
        _add_path(paths[w][best], in_tree, root_set)

    order = layout(in_tree, roots)
    return _result(wordnet, order, in_tree, lists, missing, orphans, len(multi))


def _result(wordnet: WordNet, order: list[str], parent_of: dict[str, str | None], lists: list[LabelList],
            missing: list[str], orphans: list[str], multi: int) -> BuildResult:
    index = {w: i for i, w in enumerate(order)}
    parents = [index[parent_of[w]] if parent_of[w] is not None else -1 for w in order]
    tree = build_tree(order, parents, "<built tree>")
    names = [wordnet.synset(w).name for w in order]
    maps = [[index.get(w, -1) for w in lst.wnids] for lst in lists]
    return BuildResult(tree, names, maps, missing, orphans, multi)


# -- keeping an existing order ----------------------------------------------------------------


def order_tree(wordnet: WordNet, order: list[str], lists: list[LabelList] | None = None,
               source: str = "<order>", switch_cost: float = 1.0) -> BuildResult:
    """Nodes exactly as `order` lists them; each node's parent is a WordNet ancestor listed
    before it (a node with none is top-level).

    Parents are chosen together, not one by one: a Viterbi pass over the list minimises the total
    number of hypernym steps from nodes to their parents plus `switch_cost` per group boundary,
    so a near ancestor is preferred unless it would split a run of siblings. Should a parent then
    get two separate runs, that choice is banned for the offending node and the pass repeated.
    If no assignment keeps groups contiguous, the error names the line."""
    index: dict[str, int] = {}
    for i, w in enumerate(order):
        if w in index:
            raise DataError(f"{w} is listed twice (first at line {index[w] + 1})", file=source, line=i + 1)
        index[w] = i
    missing = [w for w in order if wordnet.synset(w) is None]
    if missing:
        raise DataError(f"{len(missing)} wnid(s) not in WordNet ({wordnet.data_path}): "
                        f"{', '.join(missing[:10])}",
                        file=source, line=index[missing[0]] + 1)
    # candidates: earlier ancestors with their distance; {} for a node with none (it is adopted)
    cands: list[dict[int, int]] = []
    for i, w in enumerate(order):
        cands.append({index[a]: d for a, d in wordnet.ancestors(w).items()
                      if d > 0 and a in index and index[a] < i})
    banned: set[tuple[int, int]] = set()
    memo: list = []
    start = 0
    for _ in range(len(order) + 1):
        parents = _viterbi(cands, banned, switch_cost, memo, start)
        if parents is None:
            break
        bad = _first_split_group(parents)
        if bad is None:
            parent_of = {w: (order[p] if p >= 0 else None) for w, p in zip(order, parents)}
            lists = lists if lists is not None else [LabelList(source, list(order), [])]
            for lst in lists:
                absent = [w for w in lst.wnids if w not in index]
                if absent:
                    raise DataError(f"{len(absent)} label(s) are not in the order file {source}: "
                                    f"{', '.join(absent[:10])}", file=lst.source)
            result = _result(wordnet, list(order), parent_of, lists, [], [], 0)
            result.adopted = [order[i] for i, c in enumerate(cands)
                              if parents[i] >= 0 and parents[i] not in c]
            return result
        banned.add((bad, parents[bad]))
        start = bad  # the forward pass before `bad` does not depend on this ban
    line = bad + 1 if parents is not None and bad is not None else None
    raise DataError("this order cannot give every WordNet parent one contiguous group of children",
                    file=source, line=line)


ADOPT_COST = 50.0


def _viterbi(cands: list[dict[int, int]], banned: set[tuple[int, int]], switch_cost: float,
             memo: list | None = None, start: int = 0) -> list[int] | None:
    """Cheapest parent per node: distance to the parent, plus `switch_cost` whenever it changes.

    A node may also join the run it sits in without being a descendant of its parent, at a high
    cost: a node without earlier ancestors is top-level while the top group is open, else it is
    adopted this way. Darknet's own 9k tree has a few such nodes, placed by name rather than by
    WordNet's hypernyms."""
    memo = memo if memo is not None else []
    del memo[start:]  # memo[i] = (pruned costs, back pointers) after node i
    back: list[dict[int, int | None]] = [m[1] for m in memo]
    prev_cost: dict[int, float] = memo[-1][0] if memo else {}
    for i in range(len(memo), len(cands)):
        c = cands[i]
        cost: dict[int, float] = {}
        bp: dict[int, int | None] = {}
        if not prev_cost:
            c = c or {-1: 0}
            for s, d in c.items():
                if (i, s) not in banned:
                    cost[s], bp[s] = float(d), None
        else:
            ranked = sorted(prev_cost, key=lambda t: (prev_cost[t], t))[:2]
            for s in set(c) | set(prev_cost):
                if (i, s) in banned:
                    continue
                options = []
                if s in c:
                    if s in prev_cost:
                        options.append((prev_cost[s] + c[s], s))
                    from_ = ranked[0] if ranked[0] != s else (ranked[1] if len(ranked) > 1 else None)
                    if from_ is not None:
                        options.append((prev_cost[from_] + switch_cost + c[s], from_))
                else:
                    adopt = 0.0 if (s == -1 and not c) else ADOPT_COST
                    options.append((prev_cost[s] + adopt, s))
                best = min(options, key=lambda o: (o[0], o[1]))
                cost[s], bp[s] = best
        if not cost:
            return None
        # a state costlier than the best plus one switch is never worth continuing: switching
        # from the best is as cheap, and adopting from the best is cheaper
        floor = min(cost.values()) + switch_cost
        back.append(bp)
        prev_cost = {s: v for s, v in cost.items() if v <= floor}
        memo.append((prev_cost, bp))
    state = min(prev_cost, key=lambda s: (prev_cost[s], s))
    out = [0] * len(cands)
    for i in range(len(cands) - 1, -1, -1):
        out[i] = state
        state = back[i][state]  # type: ignore[assignment]
    return out


def _first_split_group(parents: list[int]) -> int | None:
    """Index of the first node whose parent already had a run of children that ended."""
    ended: set[int] = set()
    for i, p in enumerate(parents):
        if i > 0 and p != parents[i - 1]:
            if p in ended:
                return i
            ended.add(parents[i - 1])
    return None


# -- writing ----------------------------------------------------------------------------------


def output_paths(out: str | Path, lists: list[LabelList]) -> dict[str, Path]:
    """`NAME.tree`, `NAME.names`, `NAME.labels` and one map per input list, named like Darknet's
    `coco9k.map`: the list's name up to its first dot, then NAME."""
    out = Path(out)
    stem = out.name
    paths = {"tree": out.with_name(stem + ".tree"), "names": out.with_name(stem + ".names"),
             "labels": out.with_name(stem + ".labels")}
    for k, lst in enumerate(lists):
        base = Path(lst.source).name.split(".")[0] or f"list{k}"
        key = f"map:{k}"
        target = out.with_name(f"{base}{stem}.map")
        if target in paths.values():
            target = out.with_name(f"{base}{k}{stem}.map")
        paths[key] = target
    return paths


def write_outputs(result: BuildResult, paths: dict[str, Path], which: set[str] | None = None) -> list[Path]:
    written: list[Path] = []
    for key, path in paths.items():
        kind = key.split(":")[0]
        if which is not None and kind not in which:
            continue
        if kind == "tree":
            write_tree(result.tree, path)
        elif kind == "names":
            write_text_atomic(path, "".join(n + "\n" for n in result.names))
        elif kind == "labels":
            write_text_atomic(path, "".join(w + "\n" for w in result.tree.names))
        else:
            write_text_atomic(path, "".join(f"{i}\n" for i in result.maps[int(key.split(':')[1])]))
        written.append(path)
    return written
