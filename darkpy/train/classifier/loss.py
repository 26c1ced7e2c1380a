"""The classification loss exactly as Darknet back-propagates it.

A Darknet classifier ends in `[softmax]`, optionally followed by `[cost]` (darknet9000 uses
`type=masked`). During training Darknet computes, per output entry, with truth `t`:

- softmax (unless `noloss=1`): `delta = t - p` and cost `-log p` where `t != 0`. The delta is the
  negative gradient of cross-entropy with respect to the softmax *input* (exactly so when the
  truths of a group sum to 1), and `backward_softmax_layer` passes it to the layer below as it is.
- cost layer on top of it, with `scale` (default 1): `sse` / `masked`: `delta = t - p`,
  cost `(t - p)^2`; `masked` first sets `p` to `t` wherever `t` is -1234 (Darknet's SECRET_NUM), so
  those entries contribute nothing; `smooth`: `t - p` inside |t - p| < 1, else Darknet's
  `+-1` (with its sign as written: +1 when t < p) and cost `2|t - p| - 1`; `L1`: `sign(t - p)`,
  cost `|t - p|`. `backward_cost_layer` ADDS `scale * delta` to the softmax layer's delta, and the
  softmax passes the sum through untouched: no softmax Jacobian is applied to the cost's part.

So with `[softmax]` + `[cost] type=sse` the logits receive `(1 + scale) (t - p)`: twice the
cross-entropy gradient by default. This module reproduces that: `classification_loss` returns a
scalar whose backward gives minus the summed Darknet delta at the logits (or, without a softmax,
at the output the cost layer reads), and whose value is Darknet's reported cost for the
mini-batch (the mean over the layers that have a cost, as `get_network_cost` takes it).

WordTree softmax (`tree=`): truths follow `fill_hierarchy` (the label's ancestors are 1 too;
every group holding no truth is -1234 throughout). Darknet's GPU code zeroes the softmax delta
and cost where the truth is -1234; its CPU code forgets to (it then pushes those entries towards
-1234). darkpy follows the GPU code.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from darkpy.errors import UsageError

SECRET_NUM = -1234.0


@dataclass
class Head:
    """Where a classifier's training signal enters the network."""

    softmax_index: int | None   # the [softmax] layer, if any
    cost_index: int | None      # the [cost] layer, if any
    input_index: int            # the layer whose OUTPUT Darknet's delta is taken against
    outputs: int                # truth entries per image
    tree: object | None = None  # darkpy.wordtree.tree.Tree for a hierarchical softmax

    @property
    def uses_softmax(self) -> bool:
        return self.softmax_index is not None


def find_head(net) -> Head:
    """Identify `[softmax]`, `[softmax]+[cost]` or `[cost]` at the end of a network."""
    layers = net.layers
    last = len(layers) - 1
    cost_index = last if layers[last].section_name == "cost" else None
    top = net.output_index
    if cost_index is not None and top != last - 1:
        raise UsageError("only one [cost] layer, at the end, is supported for classification training")
    if layers[top].section_name == "softmax":
        soft = layers[top]
        if top == 0:
            raise UsageError("the network is a lone [softmax]: nothing to train")
        c, h, w = soft.out_shape
        return Head(top, cost_index, top - 1, c * h * w, getattr(soft, "tree", None))
    if cost_index is not None:
        c, h, w = layers[top].out_shape
        return Head(None, cost_index, top, c * h * w, None)
    raise UsageError(f"the network ends in [{layers[top].section_name}], not [softmax] or [cost]: "
                     "not a classifier (use `darkpy train` for detectors)")


def build_truth(classes: np.ndarray, outputs: int, n_labels: int, tree=None,
                smooth: float = 0.0) -> np.ndarray:
    """Darknet's truth rows for class indexes: one-hot over the first `n_labels` entries
    (`fill_truth`), or with label smoothing `1 - eps` / `eps / (n_labels - 1)`
    (`fill_truth_smooth`), then the tree's ancestors and masked groups (`fill_hierarchy`)."""
    classes = np.asarray(classes, dtype=np.int64)
    n = classes.shape[0]
    if n_labels > outputs:
        raise UsageError(f"{n_labels} classes but the network has only {outputs} outputs")
    truth = np.zeros((n, outputs), dtype=np.float32)
    if smooth:
        truth[:, :n_labels] = smooth / max(1, n_labels - 1)
        truth[np.arange(n), classes] = 1.0 - smooth
    else:
        truth[np.arange(n), classes] = 1.0
    if tree is not None:
        for row, c in enumerate(classes):      # the label's ancestors are truths too
            up = tree.path_to_root(int(c))[1:]
            truth[row, up] = np.where(truth[row, up] == 0, 1.0, truth[row, up])
        group = np.asarray(tree.group)
        counts = np.zeros((n, tree.groups), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(n), outputs), np.tile(group, n)), (truth != 0).ravel())
        masked = counts[:, group] == 0         # (n, nodes): the node's group holds no truth
        truth[masked] = SECRET_NUM
    return truth


def forward_capturing(net, x: torch.Tensor, head: Head) -> torch.Tensor:
    """Run `net(x)` -- through DDP when `net` is the engine's proxy, so gradients synchronise --
    and return the output of layer `head.input_index` (the softmax input), caught by a hook."""
    if not head.uses_softmax:
        return net(x)
    caught: list[torch.Tensor] = []
    layer = net.layers[head.softmax_index]
    handle = layer.register_forward_hook(lambda module, inputs, output: caught.append(inputs[0]))
    try:
        net(x)
    finally:
        handle.remove()
    return caught[-1]


def _cost_delta(cost_layer, p: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(delta, per-entry cost) of a Darknet [cost] layer reading `p` with truth `t`."""
    kind = cost_layer.cost_type
    if kind == "masked":
        p = torch.where(t == SECRET_NUM, t, p)
    diff = t - p
    if kind in ("sse", "masked"):
        return diff, diff * diff
    if kind == "smooth":
        small = diff.abs() < 1
        delta = torch.where(small, diff, torch.where(diff < 0, torch.ones_like(diff), -torch.ones_like(diff)))
        return delta, torch.where(small, diff * diff, 2 * diff.abs() - 1)
    if kind == "L1":
        return torch.where(diff > 0, torch.ones_like(diff), -torch.ones_like(diff)), diff.abs()
    raise UsageError(f"[cost] type={kind} is not supported for classification training "
                     "(sse, masked, smooth, L1)")


@dataclass
class LossParts:
    loss: torch.Tensor          # value: Darknet's cost; backward: minus the summed delta
    probs: torch.Tensor         # (N, outputs) the network output (detached)
    softmax_cost: torch.Tensor  # 0-dim, on the device (read by whoever prints it, not here)
    cost_cost: torch.Tensor


def classification_loss(net, head: Head, images: torch.Tensor, truth: torch.Tensor) -> LossParts:
    """Forward `images` through `net` (in whatever mode it is in) and build the loss."""
    n = images.shape[0]
    z = forward_capturing(net, images, head)
    zf = z.float().reshape(n, -1)
    t = truth.to(device=zf.device, dtype=torch.float32).reshape(n, -1)
    if zf.shape[1] != t.shape[1]:
        raise UsageError(f"truth has {t.shape[1]} entries per image, the network gives {zf.shape[1]}")
    counted = 0
    soft_cost = cost_cost = torch.zeros((), device=zf.device)
    if head.uses_softmax:
        soft = net.layers[head.softmax_index]
        with torch.no_grad():
            p = soft(zf.reshape(z.shape).float(), None).reshape(n, -1)
        delta = torch.zeros_like(p)
        counted += 1
        if not soft.noloss:
            delta = t - p
            ent = torch.where(t != 0, -torch.log(p), torch.zeros_like(p))
            if head.tree is not None:
                keep = t != SECRET_NUM
                delta = torch.where(keep, delta, torch.zeros_like(delta))
                ent = torch.where(keep, ent, torch.zeros_like(ent))
            soft_cost = ent.sum()
    else:
        p = zf.detach()
        delta = torch.zeros_like(p)
    if head.cost_index is not None:
        cost_layer = net.layers[head.cost_index]
        d, e = _cost_delta(cost_layer, p, t)
        delta = delta + cost_layer.scale * d
        cost_cost = e.sum()
        counted += 1
    delta = delta.detach()
    surrogate = -(delta * zf).sum()
    value = (soft_cost + cost_cost).detach() / max(1, counted)
    loss = value + surrogate - surrogate.detach()
    return LossParts(loss, p.detach(), soft_cost.detach(), cost_cost.detach())
