"""WordTree probabilities: the one implementation shared by the softmax and region layers, the
ONNX export, detection decoding and the classifier (YOLO9000, Darknet's `tree.c`).

- `group_softmax`: the hierarchical softmax, a softmax inside every group of siblings, so each
  node's value is P(node | parent).
- `hierarchy_predictions`: conditional -> absolute probabilities, P(node) = P(node | parent) *
  P(parent), down the tree (Darknet's `hierarchy_predictions`); optionally leaves only.
- `path_probability`: the same product for one node per row (the region loss's class term);
- `darknet_walk`: Darknet's `hierarchy_top_prediction`, the top-down walk that picks the class of
  a detection. It is kept as its own function because it is a choice: Darknet walks over the
  ABSOLUTE probabilities that `hierarchy_predictions` leaves and multiplies them again along the
  way (a product of absolute probabilities), which is what `yolo9000.weights` was tuned with.
"""
from __future__ import annotations

import numpy as np
import torch

from darkpy.wordtree.tree import Tree


def group_softmax(x: torch.Tensor, group: torch.Tensor, groups: int, dim: int = -1,
                  temperature: float = 1.0) -> torch.Tensor:
    """Softmax inside each group along `dim` (group[i] names entry i's group), all groups at once.

    Written with ops every ONNX runtime knows: no permutation when `dim` is the last axis, a
    finite "minus infinity" for the running maximum."""
    last = dim in (-1, x.dim() - 1)
    if not last:
        x = x.movedim(dim, -1)
    if temperature != 1:
        x = x / temperature
    lead = x.shape[:-1]
    index = group.to(x.device).view(*([1] * len(lead)), -1).expand_as(x)
    low = torch.finfo(x.dtype).min
    mx = torch.full((*lead, groups), low, dtype=x.dtype, device=x.device)
    mx = mx.scatter_reduce(-1, index, x.detach(), reduce="amax", include_self=True)
    e = torch.exp(x - mx.gather(-1, index))
    total = torch.zeros((*lead, groups), dtype=x.dtype, device=x.device).scatter_add(-1, index, e)
    out = e / total.gather(-1, index)
    return out if last else out.movedim(-1, dim)


def hierarchy_predictions(cond: torch.Tensor, tree: Tree, only_leaves: bool = False) -> torch.Tensor:
    """Absolute probabilities from conditional ones (..., n): each node times its parent's
    absolute probability (parents first: one pass per depth). With `only_leaves`, inner nodes
    are set to 0 (Darknet's classifier ranks leaves only)."""
    depth = tree.depth()
    parent = torch.as_tensor(np.asarray(tree.parent), device=cond.device)
    out = cond.clone()
    for d in range(2, int(depth.max()) + 1 if len(depth) else 0):
        nodes = torch.as_tensor(np.nonzero(depth == d)[0], device=cond.device)
        out[..., nodes] = cond[..., nodes] * out[..., parent[nodes]]
    if only_leaves:
        leaf = torch.as_tensor(np.asarray(tree.leaf), device=out.device)
        out = torch.where(leaf, out, torch.zeros_like(out))
    return out


def path_probability(cond: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """P(node) for one node per row: the product of the conditional probabilities (..., n) on
    its path to the top, `path` (..., n) marking the node and its ancestors (`Tree.ancestors_mask`
    rows). Darknet's `get_hierarchy_probability`, as the region loss uses it."""
    return torch.where(path, cond, torch.ones_like(cond)).prod(dim=-1)


def _group_table(tree: Tree, device) -> tuple[torch.Tensor, torch.Tensor]:
    size = int(tree.group_size.max())
    offs = torch.as_tensor(tree.group_offset, device=device)
    sizes = torch.as_tensor(tree.group_size, device=device)
    ar = torch.arange(size, device=device)
    table = offs[:, None] + ar[None, :]
    valid = ar[None, :] < sizes[:, None]
    return torch.where(valid, table, torch.zeros_like(table)), valid


def darknet_walk(probs: torch.Tensor, tree: Tree, thresh: float) -> torch.Tensor:
    """Darknet's tree walk for many boxes at once; returns (B,) node indices.

    `probs` (B, n) are what `hierarchy_predictions` leaves (absolute probabilities). From the top
    group, take the most likely node of the group (first maximum; no positive value: node 0);
    while the running product `p * best` stays above `thresh`, multiply it in and descend into
    that node's children; stop at a leaf (answer: the leaf), or when the product falls to
    `thresh` or below (answer: the best node in the top group, else the parent of the group)."""
    return tree_walk(probs, tree, thresh, cumulative=True)


def tree_walk(probs: torch.Tensor, tree: Tree, thresh: float, *, cumulative: bool) -> torch.Tensor:
    """The walk both `darknet_walk` and the paper's walk (`darkpy.wordtree.walk`) run: they
    differ only in the test that lets a row step down, `p * best > thresh` with `p` the product
    of the values chosen so far (`cumulative`, Darknet) or `best > thresh` (the paper)."""
    device = probs.device
    b = probs.shape[0]
    table, valid = _group_table(tree, device)
    child = torch.as_tensor(tree.child, device=device)
    parent = torch.as_tensor(tree.parent, device=device)
    offs = torch.as_tensor(tree.group_offset, device=device)
    p = torch.ones(b, dtype=probs.dtype, device=device)
    group = torch.zeros(b, dtype=torch.long, device=device)
    result = torch.zeros(b, dtype=torch.long, device=device)
    active = torch.ones(b, dtype=torch.bool, device=device)
    zero = torch.zeros((), dtype=probs.dtype, device=device)
    for _ in range(tree.n + 1):                                # each pass ends a row or descends a level
        if not bool(active.any()):
            break
        nodes = table[group]                                   # (B, S)
        vals = probs.gather(1, nodes)
        vals = torch.where(valid[group], vals, zero)
        best, k = vals.max(dim=1)                              # first maximum, like Darknet's strict >
        best_i = nodes.gather(1, k[:, None]).squeeze(1)
        pos = best > 0
        best_i = torch.where(pos, best_i, torch.zeros_like(best_i))  # Darknet's max starts at 0, index 0
        best = torch.where(pos, best, zero)
        go = (p * best if cumulative else best) > thresh
        nxt = child[best_i]
        leaf_stop = go & (nxt < 0)
        top_stop = ~go & (group == 0)
        up_stop = ~go & (group != 0)
        done_now = active & (leaf_stop | top_stop | up_stop)
        answer = torch.where(up_stop, parent[offs[group]], best_i)
        result = torch.where(done_now, answer, result)
        active = active & ~done_now
        if cumulative:
            p = torch.where(active, p * best, p)
        group = torch.where(active, nxt.clamp(min=0), group)
    return result


hierarchy_top_prediction = darknet_walk   # Darknet's name for it
