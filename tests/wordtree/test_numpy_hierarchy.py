"""The torch-free WordTree arithmetic (darkpy.wordtree.numpy_hierarchy) gives what the torch
functions of darkpy.wordtree.hierarchy give."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from darkpy.errors import UsageError
from darkpy.wordtree import hierarchy, numpy_hierarchy
from darkpy.wordtree.tree import build_tree

TREE = build_tree([f"n{i}" for i in range(12)], [-1, -1, -1, 0, 0, 1, 1, 1, 3, 3, 6, 6])


def test_group_softmax_and_absolute_probabilities_equal_torch():
    x = np.random.default_rng(0).normal(size=(5, TREE.n)).astype(np.float32) * 3
    for temperature in (1.0, 0.5):
        ref = hierarchy.group_softmax(torch.from_numpy(x), torch.as_tensor(TREE.group), TREE.groups,
                                      temperature=temperature).numpy()
        got = numpy_hierarchy.group_softmax(x, TREE, temperature)
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    for leaves in (False, True):
        ref = hierarchy.hierarchy_predictions(torch.from_numpy(got), TREE, only_leaves=leaves).numpy()
        np.testing.assert_allclose(numpy_hierarchy.hierarchy_predictions(got, TREE, leaves), ref, rtol=1e-6)


@pytest.mark.parametrize("cumulative", [True, False])
def test_both_walks_stop_where_the_torch_walk_stops(cumulative):
    rng = np.random.default_rng(1)
    cond = numpy_hierarchy.group_softmax(rng.normal(size=(200, TREE.n)).astype(np.float32) * 2, TREE)
    absolute = numpy_hierarchy.hierarchy_predictions(cond, TREE)
    absolute[:3] = 0  # no positive value anywhere: node 0
    for thresh in (0.0, 0.1, 0.3, 0.5, 0.9):
        ref = hierarchy.tree_walk(torch.from_numpy(absolute), TREE, thresh, cumulative=cumulative).numpy()
        got = numpy_hierarchy.tree_walk(absolute, TREE, thresh, cumulative=cumulative)
        assert got.tolist() == ref.tolist(), thresh


def test_walk_names_are_checked_once():
    from darkpy.wordtree.walk import WALKS, walk_function

    assert WALKS is numpy_hierarchy.WALKS
    with pytest.raises(UsageError, match="unknown tree walk 'up'; choose one of darknet, paper"):
        numpy_hierarchy.check_walk("up")
    with pytest.raises(UsageError, match="unknown tree walk 'up'"):
        walk_function("up")
