"""darkpy.wordtree.report: the lines `wordtree build|show` print, from Python."""
from darkpy.wordtree.report import coverage_lines, path_lines, stats_lines
from darkpy.wordtree.tree import build_tree

# animal, plant at the top; dog, cat under animal; beagle under dog
TREE = build_tree(["n1", "n2", "n3", "n4", "n5"], [-1, -1, 0, 0, 2])


def test_stats_lines_name_the_largest_group():
    lines = stats_lines(TREE, ["animal", "plant", "dog", "cat", "beagle"])
    assert lines[0] == "nodes         5"
    assert lines[-1].startswith("largest group 2 (")


def test_coverage_lines_count_dangling_and_missing():
    lines = coverage_lines(TREE, {"n2", "n4", "n9"})
    assert lines == ["dangling      1 (leaves not in the input lists): n5",
                     "missing       1 input wnid(s) are not nodes of the tree"]
    assert coverage_lines(TREE, {"n2", "n4", "n5"}) == ["dangling      0 (leaves not in the input lists)"]


def test_path_lines_go_from_the_top_down():
    assert path_lines(TREE, 4) == ["0 n1", "  2 n3", "    4 n5"]
    assert path_lines(TREE, 4, ["a", "b", "c", "d", "e"])[-1] == "    4 n5  e"
