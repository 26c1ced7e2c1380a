"""One WordTree probability implementation for layers, export, decoding and the classifier."""
from __future__ import annotations

import torch

from darkpy.wordtree import hierarchy
from darkpy.wordtree.tree import build_tree

TREE = build_tree([f"n{i}" for i in range(9)], [-1, -1, 0, 0, 0, 1, 1, 2, 2])


def test_every_user_calls_the_same_functions():
    import darkpy.classify.predict as predict
    import darkpy.train.classifier.task as task
    import darkpy.detect.decode as decode
    import darkpy.net.export as export
    import darkpy.net.layers.region as region
    import darkpy.net.layers.softmax as softmax

    assert softmax.group_softmax is region.group_softmax is export.group_softmax is hierarchy.group_softmax
    assert predict.hierarchy_predictions is task.hierarchy_predictions is hierarchy.hierarchy_predictions
    # decode imports it where a tree is decoded (the torch-free engine imports decode without torch)
    import inspect

    assert "from darkpy.wordtree.hierarchy import hierarchy_predictions" in inspect.getsource(decode.decode_region)
    from darkpy.wordtree.walk import walk_function

    # decode names a tree box's class through the walk chosen by name; Darknet's is the default
    assert walk_function("darknet") is hierarchy.darknet_walk
    import darkpy.train.detection.loss as loss

    assert loss.path_probability is hierarchy.path_probability


def test_group_softmax_any_axis_and_sums_to_one_per_group():
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    group = torch.as_tensor(TREE.group)
    a = hierarchy.group_softmax(x, group, TREE.groups, dim=1)
    b = hierarchy.group_softmax(x.movedim(1, -1), group, TREE.groups).movedim(-1, 1)
    assert torch.allclose(a, b)
    sums = torch.zeros(2, TREE.groups, 3, dtype=torch.float64).index_add_(1, group, a)
    assert torch.allclose(sums, torch.ones_like(sums))


def test_absolute_probabilities_are_products_down_the_tree():
    cond = torch.rand(4, 9)
    absolute = hierarchy.hierarchy_predictions(cond, TREE)
    assert torch.allclose(absolute[:, 8], cond[:, 8] * cond[:, 2] * cond[:, 0])
    leaves = hierarchy.hierarchy_predictions(cond, TREE, only_leaves=True)
    assert (leaves[:, [0, 1, 2]] == 0).all() and torch.equal(leaves[:, 8], absolute[:, 8])


def test_darknet_walk_multiplies_absolute_probabilities():
    """Darknet walks the ABSOLUTE values: n0 (0.9) then n2 (absolute 0.72): 0.9 * 0.72 = 0.648."""
    cond = torch.tensor([[0.9, 0.1, 0.8, 0.1, 0.1, 0.5, 0.5, 0.3, 0.7]])
    absolute = hierarchy.hierarchy_predictions(cond, TREE)
    assert hierarchy.darknet_walk(absolute, TREE, 0.6).tolist() == [2]     # 0.648 * 0.504 < 0.6
    assert hierarchy.darknet_walk(absolute, TREE, 0.65).tolist() == [0]    # 0.648 is not above 0.65


def test_path_probability_is_the_absolute_probability_of_the_node():
    cond = torch.rand(5, 9, dtype=torch.float64)
    absolute = hierarchy.hierarchy_predictions(cond, TREE)
    ancestors = torch.as_tensor(TREE.ancestors_mask())
    for node in range(9):
        got = hierarchy.path_probability(cond, ancestors[node].expand(5, -1))
        assert torch.allclose(got, absolute[:, node])
