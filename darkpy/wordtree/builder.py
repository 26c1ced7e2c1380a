"""Building a WordTree from WordNet, as the YOLO9000 paper describes ("Hierarchical classification").

WordNet is a graph (a synset can have several hypernyms); YOLO9000 needs a tree. For every
concept we take its hypernym paths up to a root (`physical object` in the paper). Concepts with a
single path are added first; each remaining concept then takes the path that adds the fewest new
nodes to the tree grown so far. A path joins the tree at its lowest node already present, so
every node keeps the parent it was first given and the result is a tree by construction; only
the path's nodes below that join point are added, so every leaf is a label (no dangling nodes).
Then, by default, intermediate synsets with a single child that are not labels are removed
(`collapse`), as in the paper's WordTree1k: from the 1000 ImageNet classes (root `entity`) this
gives 1374 nodes where the paper reports 1369 (1785 without collapsing).

Tie-breaks (so that output is deterministic): concepts are handled in input order (first list
first, first occurrence of a wnid wins); among paths adding equally few nodes the shorter path
wins, then the earlier one in WordNet's pointer order.

Tree order: Darknet wants each group (siblings) on consecutive lines and parents before
children. We write the top group first, then, depth-first, each node's whole group of children
followed by its children's groups - the layout of Darknet's own `9k.tree`. Within a group,
children keep the order in which they joined the tree.

`order_tree` is the other mode: keep the nodes and order of an existing labels file (Darknet's
`9k.labels`, which `yolo9000.weights` was trained with) and give each node a WordNet ancestor
among the nodes before it. The order is read as the layout above, which leaves few choices; they
are made jointly (a beam search over hypernym steps and groups, see `order_tree`). From Darknet's
9k.labels and WordNet 3.0 this rebuilds Darknet's own 9k.tree byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darkpy.assets import locate
from darkpy.errors import DataError
from darkpy.wordtree.tree import Tree, build_tree
from darkpy.wordtree.wordnet import WordNet, parse_wnid
from darkpy.formats.datafile import read_names
from darkpy.fileio import write_text_atomic
from darkpy.wordtree.tree import write_tree

PHYSICAL_OBJECT = "n00002684"

# `darkpy wordtree build` with no arguments: the paper's YOLO9000 tree from the bundled lists -
# Darknet's 9418 wnids and COCO's 80 classes, under the four top-level synsets of Darknet's
# 9k.tree (thing, matter, physical object, atmospheric phenomenon) - written to ./9k.*
YOLO9000_LABELS = "data/9k.labels"
YOLO9000_MAPS = ("data/coco.names=data/coco.wnids",)
YOLO9000_ROOTS = ("n00002452", "n00020827", "n00002684", "n11425580")
YOLO9000_OUT = "9k"


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
    dangling: list[str] = field(default_factory=list)  # leaves that are not labels (paper build: none)


# -- input lists ------------------------------------------------------------------------------


def read_label_list(path: str | Path) -> LabelList:
    """A list of wnids, one per line; a line may also be `name ... wnid` (wnid last)."""
    path = locate(path)
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


def _add_path(path: tuple[str, ...], in_tree: dict[str, str | None]) -> None:
    """Attach `path` (root first) at its lowest node already in the tree.

    Only the nodes below that join point are added: a node above it that the tree lacks (the
    tree reached the join point through another hypernym) would hang there without a label
    under it - a dangling leaf."""
    join = max(i for i, node in enumerate(path) if node in in_tree)
    for i in range(join + 1, len(path)):
        in_tree[path[i]] = path[i - 1]


def collapse(parent_of: dict[str, str | None], keep: set[str]) -> dict[str, str | None]:
    """Remove every node with exactly one child that is not in `keep` (labels, roots): its
    child takes its place, in its position among its siblings. This is how the paper's
    WordTree1k has 1369 nodes rather than the ~1700 of the raw hypernym paths; a chain of such
    synsets gives no choice to a softmax (a group of one is always probability 1).

    Returns a new parent map whose insertion order keeps each group's order, as `layout` wants."""
    children: dict[str | None, list[str]] = {}
    for node, parent in parent_of.items():
        children.setdefault(parent, []).append(node)

    def survivor(node: str) -> str:
        while node not in keep and len(children.get(node, ())) == 1:
            node = children[node][0]
        return node

    out: dict[str, str | None] = {}
    stack: list[tuple[str, str | None]] = [(n, None) for n in reversed(children.get(None, []))]
    while stack:  # depth-first: siblings are recorded in their order, which `layout` keeps
        node, parent = stack.pop()
        node = survivor(node)
        out[node] = parent
        stack.extend((kid, node) for kid in reversed(children.get(node, [])))
    return out


def dangling(parent_of: dict[str, str | None], labels: set[str]) -> list[str]:
    """Leaves that are not labels: nodes no label needs (a correct build has none)."""
    parents = {p for p in parent_of.values() if p is not None}
    return [n for n in parent_of if n not in parents and n not in labels]


def coverage(tree: Tree, wnids: set[str]) -> tuple[list[str], int]:
    """Leaves of `tree` that are not in `wnids` (dangling), and how many of `wnids` are not
    nodes of it (missing). `wordtree build` and `wordtree show --labels` both count this way."""
    loose = [tree.names[i] for i in range(tree.n) if tree.leaf[i] and tree.names[i] not in wnids]
    return loose, len(wnids - set(tree.names))


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
                   skip_missing: bool = False, skip_orphans: bool = False,
                   collapse_chains: bool = True) -> BuildResult:
    """The paper's algorithm over every wnid of `lists` (see the module docstring).

    `collapse_chains` (on by default, as in the paper's WordTree1k) removes intermediate synsets
    with a single child that are not labels; off, every edge is a WordNet hypernym edge."""
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
            _add_path(paths[w][0], in_tree)
    for w in multi:
        best = min(range(len(paths[w])),
                   key=lambda k: (_growth(paths[w][k], in_tree), len(paths[w][k]), k))
        _add_path(paths[w][best], in_tree)

    if collapse_chains:
        in_tree = collapse(in_tree, set(paths) | root_set)
    order = layout(in_tree, roots)
    result = _result(wordnet, order, in_tree, lists, missing, orphans, len(multi))
    result.dangling = dangling(in_tree, set(paths) | root_set)
    return result


def _result(wordnet: WordNet, order: list[str], parent_of: dict[str, str | None], lists: list[LabelList],
            missing: list[str], orphans: list[str], multi: int) -> BuildResult:
    index = {w: i for i, w in enumerate(order)}
    parents = [index[parent_of[w]] if parent_of[w] is not None else -1 for w in order]
    tree = build_tree(order, parents, "<built tree>")
    names = [wordnet.synset(w).name for w in order]
    maps = [[index.get(w, -1) for w in lst.wnids] for lst in lists]
    return BuildResult(tree, names, maps, missing, orphans, multi)


# -- keeping an existing order ----------------------------------------------------------------


# Order mode's costs. With Darknet's 9k.labels, any SWITCH_COST in (1, 2], LOOKAHEAD >= 2 and
# BEAM from 4 to 64 give Darknet's 9k.tree byte for byte (tests/wordtree/test_builder.py).
SWITCH_COST = 1.5    # per group
ADOPT_COST = 50      # a node joining a group whose parent is not its WordNet ancestor
INNER_COST = 30      # a node with children under a parent that is not a nearest listed ancestor
LONE_LEAF_COST = 10  # a leaf alone in its group
LOOKAHEAD = 4        # nodes whose nearest listed ancestors keep a state alive beyond the beam
BEAM = 16            # cheapest states kept per node


def order_tree(wordnet: WordNet, order: list[str], lists: list[LabelList] | None = None,
               source: str = "<order>", switch_cost: float = SWITCH_COST, beam: int = BEAM) -> BuildResult:
    """Nodes exactly as `order` lists them; each node's parent is a WordNet ancestor listed
    before it (a node with none is top-level while the top group lasts, else adopted).

    `order` is read as Darknet lays out a tree (`layout`): the top group, then depth-first each
    node's whole group of children. That fixes a lot: the k-th group after the top one belongs
    to the k-th node with children in depth-first order, so a group's parent is always the
    first pending node that has children. Among the parent choices this layout allows, a beam
    search keeps the cheapest: hypernym steps from each node to its parent plus `switch_cost`
    per group, and two rules that Darknet's own 9k.tree keeps without exception: a node with
    children hangs under a *nearest* listed ancestor (no listed node between them on some
    hypernym path; only leaves sit higher, beside a nearer ancestor), and no leaf is alone in
    its group. Ties go to nearer parents for earlier nodes, then to the parent reached through
    the earlier hypernym pointer (WordNet's order), then to the fewest pending nodes made leaves."""
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
    lists = lists if lists is not None else [LabelList(source, list(order), [])]
    for lst in lists:
        absent = [w for w in lst.wnids if w not in index]
        if absent:
            raise DataError(f"{len(absent)} label(s) are not in the order file {source}: "
                            f"{', '.join(absent[:10])}", file=lst.source)
    # candidates: earlier ancestors -> (distance, rank in WordNet's breadth-first pointer order,
    # whether it is a nearest one: no earlier listed node between them on some hypernym path)
    cands: list[dict[int, tuple[int, int, bool]]] = []
    for i, w in enumerate(order):
        nearest = _nearest_listed(wordnet, w, index, i)
        found = {}
        for rank, (a, d) in enumerate(wordnet.ancestors(w).items()):
            if d > 0 and a in index and index[a] < i:
                found[index[a]] = (d, rank, index[a] in nearest)
        cands.append(found)
    parents = _layout_parse(cands, switch_cost, beam)
    parent_of = {w: (order[p] if p >= 0 else None) for w, p in zip(order, parents)}
    result = _result(wordnet, list(order), parent_of, lists, [], [], 0)
    result.adopted = [order[i] for i, c in enumerate(cands) if parents[i] >= 0 and parents[i] not in c]
    return result


def _nearest_listed(wordnet: WordNet, wnid: str, index: dict[str, int], before: int) -> set[int]:
    """Indexes of the listed ancestors of `wnid` (listed before `before`) that some hypernym path
    reaches without passing another such node first."""
    found: set[int] = set()
    seen = {wnid}
    frontier = [wnid]
    while frontier:
        up = []
        for node in frontier:
            syn = wordnet.synset(node)
            for h in (syn.hypernyms if syn is not None else ()):
                if h in seen:
                    continue
                seen.add(h)
                if h in index and index[h] < before:
                    found.add(index[h])
                else:
                    up.append(h)
        frontier = up
    return found


class _Pending:
    """The nodes waiting for their group, top first: an immutable linked list (states share
    tails), hashed by content so that states that can no longer differ are merged. `loose`:
    the node's parent is not one of its nearest listed ancestors; `alone`: its group has no
    other node."""

    __slots__ = ("node", "loose", "alone", "rest", "key")

    def __init__(self, node: int, loose: bool, alone: bool, rest: "_Pending | None"):
        self.node, self.loose, self.alone, self.rest = node, loose, alone, rest
        self.key = hash((node, loose, alone, rest.key if rest is not None else 0))


def _layout_parse(cands: list[dict[int, tuple[int, int, bool]]], switch_cost: float, beam: int) -> list[int]:
    """Parents for every node, consistent with Darknet's layout (see `order_tree`).

    A state is (cost, parent of the open group, its first node, pending nodes, history). At
    each node a state either continues its group or closes it: the group's nodes become
    pending (first on top) and the new group takes a pending node as parent, every node above
    it becoming a leaf. Cost is a tuple compared in order: (steps + switches, position-weighted
    steps, pointer ranks + leaves made)."""
    n = len(cands)
    top = 0
    while top < n and not cands[top]:
        top += 1  # the top group: nodes without an earlier ancestor
    Cost = tuple  # (float, int, int)
    states: list[tuple[Cost, int, int, _Pending | None, tuple | None]] = [((0.0, 0, 0), -1, 0, None, None)]
    for i in range(top, n):
        c = cands[i]
        weight = n - i
        merged: dict[tuple[int, int, int], tuple] = {}

        def offer(state: tuple) -> None:
            key = (state[1], state[2], state[3].key if state[3] is not None else 0)
            old = merged.get(key)
            if old is None or state[0] < old[0]:
                merged[key] = state

        for (main, near, tie), parent, first, pending, hist in states:
            if parent in c:
                d, rank, _ = c[parent]
                offer(((main + d, near + d * weight, tie + rank), parent, first, pending, (i, parent, hist)))
            else:
                offer(((main + ADOPT_COST, near, tie), parent, first, pending, (i, parent, hist)))
            if not c:
                continue
            alone = i - first == 1
            for k in range(i - 1, first - 1, -1):
                loose = parent >= 0 and not cands[k].get(parent, (0, 0, False))[2]
                pending = _Pending(k, loose, alone, pending)
            # a node alone in its group is charged as a leaf now, and refunded if it gets children
            charge = LONE_LEAF_COST if alone else 0
            depth = 0
            while pending is not None:
                s = pending.node
                if s in c:
                    d, rank, _ = c[s]
                    extra = charge + (INNER_COST if pending.loose else 0) - (LONE_LEAF_COST if pending.alone else 0)
                    offer(((main + switch_cost + d + extra, near + d * weight, tie + rank + depth), s, i,
                           pending.rest, (i, s, hist)))
                pending = pending.rest
                depth += 1
        ranked = sorted(merged.values(), key=lambda st: st[0])
        # the cheapest `beam` states, and the cheapest one under each WordNet ancestor of this
        # node and the next few: a parent that costs more now may be the one they need
        wanted = {s for later in cands[i:i + LOOKAHEAD] for s, (_, _, near) in later.items() if near}
        kept, parents = ranked[:beam], {st[1] for st in ranked[:beam]}
        for st in ranked[beam:]:
            if st[1] in wanted and st[1] not in parents:
                parents.add(st[1])
                kept.append(st)
        states = kept

    def final(state: tuple) -> tuple:
        """The cost once the open group is closed too."""
        (main, near, tie), _, first, _, _ = state
        return (main + (LONE_LEAF_COST if n - first == 1 else 0), near, tie)

    out = [-1] * n
    hist = min(states, key=final)[4]
    while hist is not None:
        i, parent, hist = hist
        out[i] = parent
    return out


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
