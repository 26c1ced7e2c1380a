"""`classifier predict` on the torch-free engine (`darkpy.net.numpy_forward.NumpyNetwork` built
with `classifier=True`): the same inputs, WordTree arithmetic, ranking and lines as the torch
engine's `darkpy.classify.predict`, without importing torch, for a few images where importing
torch would cost more than the forward passes (`darkpy.detect.numpy_engine.choose_engine`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from darkpy.classify.prediction import Prediction, classifier_input, predict_paths, rank_top_k
from darkpy.net.numpy_forward import NumpyNetwork
from darkpy.wordtree.numpy_hierarchy import check_walk, hierarchy_predictions, tree_walk


def tree_of(net: NumpyNetwork):
    return getattr(net.output_layer, "tree", None)


def class_scores(net: NumpyNetwork, x: np.ndarray) -> np.ndarray:
    """(N, outputs) scores as Darknet ranks them: the network output, or for a WordTree softmax
    the absolute probabilities of the leaves (inner nodes 0)."""
    p = net.output(np.asarray(x, np.float32))
    p = p.reshape(p.shape[0], -1).astype(np.float32, copy=False)
    tree = tree_of(net)
    if tree is not None:
        p = hierarchy_predictions(p, tree, only_leaves=True)
    return p


def scorer(net: NumpyNetwork):
    """`class_scores` of `net` as a function of the input (`darkpy.classify.validate`)."""
    return lambda x: class_scores(net, x)


def walk_scores(net: NumpyNetwork, x: np.ndarray, walk: str, thresh: float) -> list[tuple[int, float]]:
    """(node, absolute probability) where the named WordTree walk stops, per image of `x`."""
    tree = tree_of(net)
    if tree is None:
        raise ValueError("a tree walk needs a WordTree softmax (tree=) at the network's output")
    check_walk(walk)
    p = net.output(np.asarray(x, np.float32))
    absolute = hierarchy_predictions(p.reshape(p.shape[0], -1), tree, only_leaves=False)
    nodes = tree_walk(absolute, tree, thresh, cumulative=walk == "darknet")
    return [(int(n), float(absolute[i, n])) for i, n in enumerate(nodes)]


def predict_array(net: NumpyNetwork, x: np.ndarray, top: int) -> list[tuple[list[int], list[float]]]:
    scores = class_scores(net, x)
    idx = rank_top_k(scores, top)
    return [(row.tolist(), scores[n, row].tolist()) for n, row in enumerate(idx)]


def predict_images(net: NumpyNetwork, paths: list[str | Path], top: int, how: str = "letterbox",
                   walk: str | None = None, hier_thresh: float = 0.5) -> list[Prediction]:
    """Top-k per image; with `walk`, also the node that WordTree walk stops at (`hier_thresh`)."""
    w, h, c = net.width, net.height, net.channels
    return predict_paths(paths, lambda rgb: classifier_input(rgb, w, h, how, c)[None],
                         lambda x: predict_array(net, x, top),
                         lambda x: walk_scores(net, x, walk, hier_thresh), walk)


__all__ = ("class_scores", "predict_array", "predict_images", "scorer", "walk_scores")
