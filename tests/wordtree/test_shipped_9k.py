"""data/9k.* are Darknet's own files: yolo9000.weights is tied to the groups of its 9k.tree."""
import hashlib
from pathlib import Path

import pytest

from darkpy.wordtree.tree import check_tree, read_tree

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
DEBIAN = Path("/usr/share/darknet/data")

# sha256 of Darknet's data/9k.tree (pjreddie/darknet, as Debian's `darknet` package ships it)
DARKNET_9K_TREE_SHA256 = "124b05033e928707069995e1b61823c80f10fc14d82f84c9cd5575443b61be54"
SHARED = ("9k.tree", "9k.names", "9k.labels", "coco9k.map", "inet9k.map")


def _lines(path):
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def test_9k_tree_is_darknets_file_byte_for_byte():
    assert hashlib.sha256((DATA / "9k.tree").read_bytes()).hexdigest() == DARKNET_9K_TREE_SHA256


def test_9k_tree_shape_is_darknets():
    tree = check_tree(DATA / "9k.tree")
    assert tree.n == 9418 and tree.groups == 1846
    assert int(tree.group_size[0]) == 4  # thing, matter, object, atmospheric phenomenon


def test_9k_names_labels_and_maps_agree_with_the_tree():
    tree = read_tree(DATA / "9k.tree")
    assert _lines(DATA / "9k.labels") == tree.names           # label i is tree node i
    names = (DATA / "9k.names").read_text().splitlines()
    assert len(names) == tree.n and all(n.strip() for n in names)
    coco = [int(x) for x in _lines(DATA / "coco9k.map")]
    inet = [int(x) for x in _lines(DATA / "inet9k.map")]
    assert len(coco) == 80 and len(inet) == 200
    for m in (coco, inet):
        assert len(set(m)) == len(m) and all(0 <= i < tree.n for i in m)
    # coco9k.map sends each COCO class to the node of its wnid
    wnids = _lines(DATA / "coco.wnids")
    assert [tree.names[i] for i in coco] == wnids
    assert names[coco[0]] == "person" and names[coco[16]] == "dog"


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian's darknet package is not installed")
@pytest.mark.parametrize("name", SHARED)
def test_9k_files_match_debians_darknet_package(name):
    assert (DATA / name).read_bytes() == (DEBIAN / name).read_bytes()
