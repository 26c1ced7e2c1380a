"""`darkpy wordtree build|show|check`: make YOLO9000 WordTrees from WordNet and inspect them."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from darkpy.errors import UsageError


def _stats_lines(tree, names: list[str] | None) -> list[str]:
    from darkpy.wordtree.tree import tree_stats

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


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Build YOLO9000 WordTrees (.tree) from WordNet 3.0, show and check them.",
                        no_args_is_help=True)

    @group.command("build")
    def build(
        out: Optional[Path] = typer.Option(None, "-o", "--out", help="Output prefix: writes OUT.tree, "
                                           "OUT.names, OUT.labels and one map per input list (e.g. "
                                           "data/coco9k.map). Needed with --labels/--map/--order."),
        labels: List[Path] = typer.Option([], "--labels",
                                          help="List of wnids (or 'name wnid' lines); repeatable."),
        maps: List[str] = typer.Option([], "--map",
                                       help="NAMES=WNIDS: a names file and a parallel wnid file; "
                                       "repeatable."),
        order: Optional[Path] = typer.Option(None, "--order",
                                             help="Keep the nodes and order of this wnid list "
                                             "(e.g. data/9k.labels); parents come from WordNet."),
        roots: List[str] = typer.Option([], "--root", help="Root synset(s), top-level nodes of the tree "
                                        "(default: n00002684, physical object)."),
        wordnet: Optional[Path] = typer.Option(None, "--wordnet", help="WordNet folder holding data.noun "
                                               "(default: $WNHOME, /usr/share/wordnet, ~/nltk_data)."),
        skip_missing: bool = typer.Option(False, "--skip-missing", help="Leave out wnids WordNet lacks "
                                          "(their map lines read -1)."),
        skip_orphans: bool = typer.Option(False, "--skip-orphans",
                                          help="Leave out concepts with no path to a "
                                          "root (their map lines read -1)."),
        collapse: bool = typer.Option(True, "--collapse/--no-collapse",
                                      help="Paper build: remove intermediate synsets that have one "
                                      "child and are not labels, as the paper's WordTree1k does "
                                      "(default on; off keeps every WordNet hypernym edge)."),
        tree_only: bool = typer.Option(False, "--tree-only", help="Write only OUT.tree."),
        force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    ) -> None:
        """Build a WordTree: the YOLO9000 paper's shortest-growth paths, or --order to keep a list's order.

        With no lists, builds the YOLO9000 tree from the bundled data/9k.labels and COCO's classes
        into ./9k.tree, ./9k.names, ./9k.labels, ./9k9k.map and ./coco9k.map."""
        from darkpy.wordtree.wordnet import WordNet, parse_wnid
        from darkpy.wordtree import builder as B
        from darkpy.wordtree.builder import (build_wordtree, order_tree, output_paths, read_label_list,
                                     read_mapped_names, write_outputs)

        if not labels and not maps and order is None:
            if roots:
                raise UsageError("--root needs --labels or --map (with no lists, the YOLO9000 tree is "
                                 "built under Darknet's own four top-level synsets)")
            labels, maps = [Path(B.YOLO9000_LABELS)], list(B.YOLO9000_MAPS)
            roots, skip_orphans = list(B.YOLO9000_ROOTS), True
            out = out if out is not None else Path(B.YOLO9000_OUT)
            typer.echo(f"building the YOLO9000 tree: --labels {B.YOLO9000_LABELS} "
                       + " ".join(f"--map {m}" for m in B.YOLO9000_MAPS) + " "
                       + " ".join(f"--root {r}" for r in B.YOLO9000_ROOTS) + f" --skip-orphans -o {out}")
        elif out is None:
            raise UsageError("give -o/--out PREFIX for the tree built from these lists "
                             "(with no lists at all, `darkpy wordtree build` writes the YOLO9000 tree to ./9k.*)")
        lists = [read_label_list(p) for p in labels]
        for spec in maps:
            if "=" not in spec:
                raise UsageError(f"--map expects NAMES=WNIDS, got {spec!r}")
            names_path, wnids_path = spec.split("=", 1)
            lists.append(read_mapped_names(names_path, wnids_path))
        root_ids = []
        for r in roots:
            wnid = parse_wnid(r)
            if wnid is None:
                raise UsageError(f"--root {r!r} is not a WordNet id like n00002684")
            root_ids.append(wnid)
        if order is not None and root_ids:
            raise UsageError("--root has no effect with --order (the order file sets the top level)")
        wn = WordNet(wordnet)
        if order is not None:
            order_list = read_label_list(order)
            result = order_tree(wn, order_list.wnids, lists or None, source=str(order))
            if not lists:
                lists = [order_list]
        else:
            result = build_wordtree(wn, lists, root_ids or None, skip_missing=skip_missing,
                                    skip_orphans=skip_orphans, collapse_chains=collapse)
        paths = output_paths(out, lists)
        which = {"tree"} if tree_only else None
        if order is not None and not tree_only:
            # the order file is already the labels file, and its own map is the identity
            paths = {k: v for k, v in paths.items() if not (k == "map:0" and not labels and not maps)}
        chosen = [p for k, p in paths.items() if which is None or k.split(":")[0] in which]
        from darkpy.fileio import refuse_overwrite

        refuse_overwrite(chosen, list(labels) + [order] + [part for spec in maps for part in spec.split("=", 1)])
        existing = [str(p) for p in chosen if p.exists()]
        if existing and not force:
            # --tree-only helps only when the files in the way are the ones it would not write
            hint = "" if tree_only or paths["tree"].exists() else " (or --tree-only)"
            raise UsageError(f"would overwrite {', '.join(existing)}; pass --force{hint}")
        written = write_outputs(result, {k: v for k, v in paths.items() if v in chosen}, which)
        for line in _stats_lines(result.tree, result.names):
            typer.echo(line)
        if order is None:
            typer.echo(f"multi-path    {result.multi_path} concepts chose among several hypernym paths")
        # counted as `wordtree show --labels` counts them, so the two commands agree
        loose, absent = B.coverage(result.tree, {w for lst in lists for w in lst.wnids})
        typer.echo(f"dangling      {len(loose)} (leaves not in the input lists)"
                   + (f": {' '.join(loose[:10])}{' ...' if len(loose) > 10 else ''}" if loose else ""))
        if absent:
            typer.echo(f"missing       {absent} input wnid(s) are not nodes of the tree")
        for what, items in (("  not in WordNet   ", result.missing), ("  no path to a root", result.orphans),
                            ("adopted      ", result.adopted)):
            if items:
                typer.echo(f"{what} {len(items)}: {' '.join(items[:10])}{' ...' if len(items) > 10 else ''}"
                           + (" (parent is not a WordNet ancestor)" if items is result.adopted else ""))
        for p in written:
            typer.echo(f"wrote {p}")

    @group.command("show")
    def show(
        tree_path: Path = typer.Argument(..., metavar="TREE", help="A .tree file."),
        wnid: Optional[str] = typer.Option(None, "--wnid", help="Print this node's path to the top level."),
        names_path: Optional[Path] = typer.Option(None, "--names", help="Readable names, one per node "
                                                  "(default: TREE with .names, if present)."),
        label_lists: List[Path] = typer.Option([], "--labels", help="The concept list(s) the tree was "
                                               "built for (wnids): counts leaves not in them as "
                                               "dangling; repeatable."),
    ) -> None:
        """Statistics of a tree (nodes, groups, depth, leaves, dangling); with --wnid, the path
        from a node up to the top level."""
        from darkpy.formats.datafile import read_names
        from darkpy.errors import DataError
        from darkpy.wordtree.tree import read_tree

        from darkpy.assets import locate

        tree_path = locate(tree_path)  # the bundled data/9k.tree from anywhere
        tree = read_tree(tree_path)
        if names_path is None and tree_path.with_suffix(".names").is_file():
            names_path = tree_path.with_suffix(".names")
        names = read_names(names_path) if names_path is not None else None
        if names is not None and len(names) != tree.n:
            raise DataError(f"{len(names)} names for a tree of {tree.n} nodes", file=names_path)
        for line in _stats_lines(tree, names):
            typer.echo(line)
        if label_lists:
            from darkpy.wordtree.builder import read_label_list

            from darkpy.wordtree.builder import coverage

            loose, absent = coverage(tree, {w for p in label_lists for w in read_label_list(p).wnids})
            typer.echo(f"dangling      {len(loose)} (leaves not in --labels)"
                       + (f": {' '.join(loose[:10])}{' ...' if len(loose) > 10 else ''}" if loose else ""))
            if absent:
                typer.echo(f"missing       {absent} --labels wnid(s) are not nodes of the tree")
        else:
            typer.echo("dangling      ? (pass --labels with the tree's concept list to count leaves "
                       "that are not labels)")
        if wnid is not None:
            index = {name: i for i, name in enumerate(tree.names)}
            if wnid not in index:
                raise UsageError(f"{wnid} is not a node of {tree_path}")
            typer.echo(f"path of {wnid}:")
            for depth, node in enumerate(reversed(tree.path_to_root(index[wnid]))):
                readable = f"  {names[node]}" if names else ""
                typer.echo(f"{'  ' * depth}{node} {tree.names[node]}{readable}")

    @group.command("check")
    def check(tree_path: Path = typer.Argument(..., metavar="TREE", help="A .tree file.")) -> None:
        """Validate a tree file: parents before children, contiguous groups, no repeats or cycles."""
        from darkpy.wordtree.tree import check_tree

        tree = check_tree(tree_path)
        typer.echo(f"{tree_path}: ok ({tree.n} nodes, {tree.groups} groups, depth {int(tree.depth().max())})")

    app.add_typer(group, name="wordtree")
