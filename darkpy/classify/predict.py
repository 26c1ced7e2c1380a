"""`classifier predict` on the torch engine: the top-k classes of single images, as Darknet's
`predict_classifier` (the torch-free engine: `darkpy.classify.numpy_predict`; what both show:
`darkpy.classify.prediction`).

Darknet letterboxes the image into the network's input (`letterbox_image`: aspect kept, grey
borders), runs the network, for a WordTree softmax turns conditional probabilities into
absolute ones (`hierarchy_predictions`, leaves only), and lists the `top` most likely entries
(`top_k`: ties keep the lower index first) as `%5.2f%%: name`.

Darknet's predict does not walk the tree. With `walk` ('darknet' or 'paper', see
darkpy.wordtree.walk) darkpy also names the ONE node a WordTree walk stops at, with its absolute
probability: the class a YOLO9000 detector would report for the same probabilities.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from darkpy.classify.prediction import PREPROCESS, Prediction, classifier_input, predict_paths  # noqa: F401 (shared)
from darkpy.wordtree.hierarchy import hierarchy_predictions
from darkpy.wordtree.walk import walk_function


def top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indexes of the k largest entries along the last axis, ties in index order (Darknet's top_k)."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    return order[..., :k]


def net_device(net) -> torch.device:
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


def tree_of(net):
    return getattr(net.output_layer, "tree", None)


def class_scores(net, x: torch.Tensor) -> torch.Tensor:
    """(N, outputs) scores as Darknet ranks them: the network output, or for a WordTree softmax
    the absolute probabilities of the leaves (inner nodes 0)."""
    with torch.no_grad():
        p = net(x.to(net_device(net)))
    p = p.reshape(p.shape[0], -1).float()
    tree = tree_of(net)
    if tree is not None:
        p = hierarchy_predictions(p, tree, only_leaves=True)
    return p


def walk_tensor(net, x: torch.Tensor, walk: str, thresh: float) -> list[tuple[int, float]]:
    """(node, absolute probability) where the named WordTree walk stops, per image of `x`."""

    tree = tree_of(net)
    if tree is None:
        raise ValueError("a tree walk needs a WordTree softmax (tree=) at the network's output")
    with torch.no_grad():
        p = net(x.to(net_device(net)))
    absolute = hierarchy_predictions(p.reshape(p.shape[0], -1).float(), tree, only_leaves=False)
    nodes = walk_function(walk)(absolute, tree, thresh)
    return [(int(n), float(absolute[i, n])) for i, n in enumerate(nodes)]


def scorer(net):
    """`class_scores` of the torch network as a function of numpy input, giving numpy scores: what
    `classifier valid` runs on either engine (`darkpy.classify.validate`)."""
    net.eval()
    device = net_device(net)

    def scores(x: np.ndarray) -> np.ndarray:
        return class_scores(net, torch.from_numpy(np.ascontiguousarray(x)).to(device)).cpu().numpy()

    return scores


def predict_tensor(net, x: torch.Tensor, top: int) -> list[tuple[list[int], list[float]]]:
    scores = class_scores(net, x).cpu()
    idx = top_k(scores, top)
    return [(row.tolist(), scores[n, row].tolist()) for n, row in enumerate(idx)]


def predict_images(net, paths: list[str | Path], top: int, how: str = "letterbox",
                   walk: str | None = None, hier_thresh: float = 0.5) -> list[Prediction]:
    """Top-k per image; with `walk`, also the node that WordTree walk stops at (`hier_thresh`)."""
    w, h, c = net.net.width, net.net.height, net.net.channels
    net.net.check_image_channels(getattr(net, "cfg_path", None), detector=False)
    net.eval()
    return predict_paths(paths, lambda rgb: torch.from_numpy(classifier_input(rgb, w, h, how, c))[None],
                         lambda x: predict_tensor(net, x, top),
                         lambda x: walk_tensor(net, x, walk, hier_thresh), walk)
