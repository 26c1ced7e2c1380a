import pytest

from darkpy.errors import DataError
import torch

from darkpy.wordtree.hierarchy import darknet_walk
from darkpy.wordtree.tree import build_tree, read_tree


def test_mini_tree_groups_match_darknet_numbering(golden):
    t = read_tree(golden / "cfg" / "mini.tree")
    assert t.n == 9 and t.groups == 4
    assert t.group_offset.tolist() == [0, 2, 5, 7]
    assert t.group_size.tolist() == [2, 3, 2, 2]
    assert t.child.tolist() == [1, 2, 3, -1, -1, -1, -1, -1, -1]
    assert t.leaf.tolist() == [False] * 3 + [True] * 6


def test_non_contiguous_group_is_an_error_with_line():
    with pytest.raises(DataError, match=r":5: .*not contiguous"):
        build_tree(list("abcde"), [-1, -1, 0, 1, 0], source="x.tree")


def test_parent_after_child_is_an_error():
    with pytest.raises(DataError, match="parents must come before"):
        build_tree(list("ab"), [1, -1], source="x.tree")


def test_top_prediction_walks_while_product_exceeds_thresh(golden):
    t = read_tree(golden / "cfg" / "mini.tree")
    probs = torch.tensor([[0.9, 0.1, 0.8, 0.1, 0.1, 0.5, 0.5, 0.3, 0.7]])
    assert darknet_walk(probs, t, 0.55).tolist() == [2]     # 0.9*0.8=.72 ok, *0.7=.504 not > .55
    assert darknet_walk(probs, t, 0.4).tolist() == [8]
    assert darknet_walk(probs, t, 0.95).tolist() == [0]     # top group: best node anyway
