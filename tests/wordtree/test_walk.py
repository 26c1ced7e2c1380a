"""The two WordTree walks: Darknet's (product of absolute probabilities) and the paper's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darkpy.wordtree.hierarchy import hierarchy_predictions
from darkpy.errors import UsageError
from darkpy.wordtree.tree import build_tree
from darkpy.wordtree.walk import darknet_top_prediction, paper_top_prediction, walk_function

#   top group: n0 n1;  n0 -> n2 n3 n4;  n1 -> n5 n6;  n2 -> n7 n8
TREE = build_tree([f"n{i}" for i in range(9)], [-1, -1, 0, 0, 0, 1, 1, 2, 2])


def paper_reference(absolute: np.ndarray, tree, thresh: float) -> int:
    """One prediction, step by step: descend while the best child's own probability > thresh."""
    group = 0
    while True:
        lo, size = int(tree.group_offset[group]), int(tree.group_size[group])
        vals = absolute[lo:lo + size]
        best = lo + int(np.argmax(vals)) if vals.max() > 0 else 0
        if absolute[best] > thresh:
            if tree.child[best] < 0:
                return best
            group = int(tree.child[best])
        elif group == 0:
            return best
        else:
            return int(tree.parent[lo])


def test_hand_case_darknet_stops_higher_than_the_paper():
    cond = torch.zeros(1, 9)
    cond[0, [0, 1, 2, 3, 4, 5, 6, 7, 8]] = torch.tensor([.9, .1, .8, .1, .1, .5, .5, .7, .3])
    absolute = hierarchy_predictions(cond, TREE)      # n0 .9, n2 .72, n7 .504
    # Darknet: .9 > .5, .9*.72 = .648 > .5, .648*.504 = .327 < .5: stops at n2
    assert darknet_top_prediction(absolute, TREE, 0.5).tolist() == [2]
    # paper: P(n7) = .9*.8*.7 = .504 > .5: reaches the leaf n7
    assert paper_top_prediction(absolute, TREE, 0.5).tolist() == [7]
    # nothing clears the bar: both name the best top-level node
    for walk in (darknet_top_prediction, paper_top_prediction):
        assert walk(absolute, TREE, 0.95).tolist() == [0]


def test_paper_walk_matches_the_scalar_reference_and_goes_at_least_as_deep():
    rng = np.random.default_rng(7)
    cond = torch.from_numpy(rng.random((300, 9), dtype=np.float32))
    cond[:4] = 0
    absolute = hierarchy_predictions(cond, TREE)
    for thresh in (0.0, 0.05, 0.2, 0.5, 0.8):
        fast = paper_top_prediction(absolute, TREE, thresh).tolist()
        assert fast == [paper_reference(a, TREE, thresh) for a in absolute.numpy()]
        # Darknet's product is never larger than the path's probability: the paper's answer is
        # Darknet's node or one of its descendants
        for d, p in zip(darknet_top_prediction(absolute, TREE, thresh).tolist(), fast):
            assert d in TREE.path_to_root(p)


def test_walks_by_name():
    assert walk_function("darknet") is darknet_top_prediction
    assert walk_function("paper") is paper_top_prediction
    with pytest.raises(UsageError, match="darknet, paper"):
        walk_function("greedy")


@pytest.mark.golden
def test_decode_uses_the_chosen_walk_on_the_golden_tree_network(golden):
    import darkpy
    from darkpy.detect.decode import decode

    folder = golden / "forward" / "g_tree_mini"
    net = darkpy.load_network(golden / "cfg" / "g_tree_mini.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    with torch.no_grad():
        outs = net.forward_all(x)
    layers = net.detection_layers
    det = [outs[l.index] for l in layers]
    tree = layers[0].tree
    raw = {walk: decode(layers, det, w, h, [(w, h)], 0.0, 0.3, hier_walk=walk)[0]
           for walk in ("darknet", "paper")}
    assert torch.equal(raw["darknet"].boxes, raw["paper"].boxes)
    dn, pp = raw["darknet"].probs.argmax(1).tolist(), raw["paper"].probs.argmax(1).tolist()
    assert all(d in tree.path_to_root(p) for d, p in zip(dn, pp))
    default = decode(layers, det, w, h, [(w, h)], 0.0, 0.3)[0]
    assert torch.equal(default.probs, raw["darknet"].probs)


def test_detect_rejects_an_unknown_walk(cli):
    code, _, err = cli("detect", "data/dog.jpg", "--hier-walk", "greedy")
    assert code == 2 and "darknet, paper" in err


def test_detect_options_take_the_walk_by_name():
    from darkpy.detect.options import DetectOptions

    assert DetectOptions(hier_walk="paper").hier_walk == "paper"
    assert DetectOptions().hier_walk == "darknet"
    with pytest.raises(UsageError, match="darknet, paper"):
        DetectOptions(hier_walk="greedy")


@pytest.mark.golden
def test_detect_cli_paper_walk_names_deeper_classes(cli, golden, repo):
    """The golden 9-node tree network on dog.jpg: at --hier-thresh .3 Darknet's walk stops at
    top-level or second-level nodes (thing, animal, place) where the paper's reaches leaves."""
    cfg = golden / "cfg" / "g_tree_mini.cfg"
    weights = golden / "forward" / "g_tree_mini" / "weights"
    names = golden / "cfg" / "mini.names"
    out = {}
    for walk in ("darknet", "paper"):
        code, text, err = cli("detect", "--cfg", cfg, "--weights", weights, "--names", names,
                              repo / "data" / "dog.jpg", "--no-save", "--thresh", "0.1",
                              "--hier-thresh", "0.3", "--hier-walk", walk)
        assert code == 0, err
        out[walk] = {line.split(":")[0] for line in text.splitlines()[1:]}
    assert out["darknet"] and out["paper"] and out["darknet"] != out["paper"]
    assert "cat" in out["paper"] and "cat" not in out["darknet"]
