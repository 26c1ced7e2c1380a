"""WordTree probabilities in numpy, for the torch-free engine (`darkpy.net.numpy_forward`,
`classifier predict` on a few images): the twins of `darkpy.wordtree.hierarchy`'s
`group_softmax`, `hierarchy_predictions` and `tree_walk`, which would import torch. They compute
the same values (the tests compare the two) on float32 arrays of shape (..., n).

A tree's groups are contiguous runs of nodes (`darkpy.wordtree.tree`), so the per-group maxima
and sums are `reduceat` over the group offsets: no loop over groups.
"""
from __future__ import annotations

import numpy as np

from darkpy.errors import UsageError
from darkpy.wordtree.tree import Tree

WALKS = ("darknet", "paper")  # the tree walks (darkpy.wordtree.walk): Darknet's and the paper's


def check_walk(name: str) -> str:
    """`name` if it is one of WALKS, else a UsageError listing them."""
    if name not in WALKS:
        raise UsageError(f"unknown tree walk {name!r}; choose one of {', '.join(WALKS)}")
    return name


def group_softmax(x: np.ndarray, tree: Tree, temperature: float = 1.0) -> np.ndarray:
    """Softmax inside each group of siblings along the last axis: P(node | parent)."""
    x = np.asarray(x, np.float32)
    if temperature != 1:
        x = x / np.float32(temperature)
    offsets, group = tree.group_offset, tree.group
    mx = np.maximum.reduceat(x, offsets, axis=-1)
    e = np.exp(x - mx[..., group])
    total = np.add.reduceat(e, offsets, axis=-1)
    return e / total[..., group]


def hierarchy_predictions(cond: np.ndarray, tree: Tree, only_leaves: bool = False) -> np.ndarray:
    """Absolute probabilities from conditional ones (..., n): each node times its parent's
    absolute probability, parents first (one pass per depth); with `only_leaves`, inner nodes 0."""
    depth = tree.depth()
    out = np.array(cond, dtype=np.float32, copy=True)
    for d in range(2, int(depth.max()) + 1 if len(depth) else 0):
        nodes = np.nonzero(depth == d)[0]
        out[..., nodes] = cond[..., nodes] * out[..., tree.parent[nodes]]
    if only_leaves:
        out = np.where(tree.leaf, out, np.float32(0))
    return out


def tree_walk(probs: np.ndarray, tree: Tree, thresh: float, *, cumulative: bool) -> np.ndarray:
    """(B,) node where the walk stops, for (B, n) absolute probabilities: Darknet's walk with
    `cumulative` (`p * best > thresh`, p the product of the values chosen so far), the paper's
    without (`best > thresh`). The rules are `darkpy.wordtree.hierarchy.tree_walk`'s: the first
    maximum of the group (none above 0: node 0); a leaf ends the walk; a failed step ends it on
    the best top-level node in the top group, else on the parent of the group."""
    probs = np.asarray(probs)
    out = np.zeros(len(probs), dtype=np.int64)
    for row, values in enumerate(probs):
        p, group = 1.0, 0
        while True:
            start = int(tree.group_offset[group])
            vals = values[start:start + int(tree.group_size[group])]
            k = int(np.argmax(vals))
            best = vals[k]
            node = start + k
            if not best > 0:
                node, best = 0, values.dtype.type(0)
            go = (np.float32(p) * best if cumulative else best) > thresh
            if go and tree.child[node] < 0:
                out[row] = node
                break
            if not go:
                out[row] = node if group == 0 else int(tree.parent[start])
                break
            if cumulative:
                p = np.float32(p) * best
            group = int(tree.child[node])
    return out


__all__ = ("WALKS", "check_walk", "group_softmax", "hierarchy_predictions", "tree_walk")
