from pathlib import Path

import pytest

from darkpy.errors import DataError
from darkpy.wordtree.tree import read_tree, write_tree
from darkpy.wordtree.wordnet import WordNet
from darkpy.wordtree.builder import LabelList, build_wordtree, layout, order_tree
from tests.wordtree.wordnet_fake import write_wordnet

REPO = Path(__file__).resolve().parents[2]
REAL = Path("/usr/share/wordnet/data.noun").is_file()

#       R (physical object)
#      / \
#     A   D
#     |   |
#     B   E
#    / \   \
#   C   X   X   (X has two hypernyms: E first, then B)
#   Y: hypernyms F (off the tree) and B;   Z: no path to R
SYNSETS = [
    ("R", ["physical_object"], []),
    ("A", ["alpha"], ["R"]),
    ("B", ["beta"], ["A"]),
    ("C", ["gamma"], ["B"]),
    ("D", ["delta"], ["R"]),
    ("E", ["epsilon"], ["D"]),
    ("X", ["chi"], ["E", "B"]),
    ("F", ["phi"], ["R"]),
    ("Y", ["psi", "psi_thing"], ["F", "B"]),
    ("Q", ["abstraction"], []),
    ("Z", ["zeta"], ["Q"]),
]


@pytest.fixture
def fake(tmp_path):
    ids = write_wordnet(tmp_path / "wn", SYNSETS)
    return WordNet(tmp_path / "wn"), ids


def labels(ids, *keys, source="list"):
    return LabelList(source, [ids[k] for k in keys], [])


def parent_of(result, ids, key):
    tree = result.tree
    p = int(tree.parent[tree.names.index(ids[key])])
    return tree.names[p] if p >= 0 else None


def test_multi_path_concept_takes_the_path_adding_fewest_nodes(fake):
    wn, ids = fake
    # C (single path R-A-B-C) goes in first; X's first path R-D-E-X would add D, E and X,
    # its second R-A-B-X adds only X, so X hangs under B although E comes first in WordNet.
    result = build_wordtree(wn, [labels(ids, "X", "C")], [ids["R"]])
    assert parent_of(result, ids, "X") == ids["B"]
    assert ids["D"] not in result.tree.names and ids["E"] not in result.tree.names
    assert result.multi_path == 1


def test_growth_counts_only_nodes_below_the_tree(fake):
    wn, ids = fake
    # E already in the tree (from a single-path concept): now X's path via E adds 1 node, via B 2
    result = build_wordtree(wn, [labels(ids, "E", "X")], [ids["R"]])
    assert parent_of(result, ids, "X") == ids["E"]


def test_ties_go_to_the_shorter_then_the_earlier_path(fake):
    wn, ids = fake
    # Y alone: R-F-Y adds 2 (F, Y), R-A-B-Y adds 3: the shorter wins
    result = build_wordtree(wn, [labels(ids, "Y")], [ids["R"]], collapse_chains=False)
    assert parent_of(result, ids, "Y") == ids["F"]
    # X alone: both paths add 3 nodes and are as long: the first in pointer order (via E) wins
    result = build_wordtree(wn, [labels(ids, "X")], [ids["R"]], collapse_chains=False)
    assert parent_of(result, ids, "X") == ids["E"]


def test_root_is_the_top_level_node_and_groups_are_contiguous(fake):
    wn, ids = fake
    result = build_wordtree(wn, [labels(ids, "C", "X", "E", "Y")], [ids["R"]], collapse_chains=False)
    tree = result.tree
    assert tree.names[0] == ids["R"] and int(tree.parent[0]) == -1 and tree.group_size[0] == 1
    # single-path C and E first (R-A-B-C, R-D-E); then X ties (1 node either way: first pointer, E)
    # and Y prefers B (adds Y) to F (adds F and Y). Layout: top group, then depth-first whole groups.
    assert tree.names == [ids[k] for k in ("R", "A", "D", "B", "C", "Y", "E", "X")]
    assert [int(p) for p in tree.parent] == [-1, 0, 0, 1, 3, 3, 2, 6]
    assert result.names[0] == "physical object"


def test_orphans_are_named_or_skipped(fake):
    wn, ids = fake
    with pytest.raises(DataError, match=r"1 concept\(s\) have no hypernym path.*zeta"):
        build_wordtree(wn, [labels(ids, "C", "Z")], [ids["R"]])
    result = build_wordtree(wn, [labels(ids, "C", "Z")], [ids["R"]], skip_orphans=True)
    assert result.orphans == [ids["Z"]]
    assert result.maps[0][1] == -1
    both = build_wordtree(wn, [labels(ids, "C", "Z")], [ids["R"], ids["Q"]])
    assert both.tree.group_size[0] == 2  # two roots share the top group


def test_unknown_wnid_is_listed_then_skippable(fake):
    wn, ids = fake
    lst = LabelList("list", [ids["C"], "n99999999"], [])
    with pytest.raises(DataError, match="n99999999"):
        build_wordtree(wn, [lst], [ids["R"]])
    result = build_wordtree(wn, [lst], [ids["R"]], skip_missing=True)
    assert result.missing == ["n99999999"] and result.maps[0] == [result.tree.names.index(ids["C"]), -1]


def test_maps_give_each_label_its_tree_index(fake):
    wn, ids = fake
    a, b = labels(ids, "C", "X"), labels(ids, "X", "E")
    result = build_wordtree(wn, [a, b], [ids["R"]])
    names = result.tree.names
    assert [names[i] for i in result.maps[0]] == a.wnids
    assert [names[i] for i in result.maps[1]] == b.wnids


def test_build_is_deterministic(fake):
    wn, ids = fake
    one = build_wordtree(wn, [labels(ids, "X", "Y", "C", "E")], [ids["R"]])
    two = build_wordtree(wn, [labels(ids, "X", "Y", "C", "E")], [ids["R"]])
    assert one.tree.names == two.tree.names and list(one.tree.parent) == list(two.tree.parent)


def test_layout_emits_whole_groups_depth_first():
    parent_of = {"r": None, "a": "r", "b": "r", "a1": "a", "b1": "b", "a11": "a1", "a2": "a"}
    assert layout(parent_of, ["r"]) == ["r", "a", "b", "a1", "a2", "a11", "b1"]


# For order mode: each listed node is two WordNet steps below its listed parent, so that a
# skipped level never ties with a group boundary. Z is unrelated to everything.
ORDER_SYNSETS = [
    ("R", ["root"], []), ("R2", ["r2"], ["R"]), ("Z", ["z"], []),
    ("A", ["a"], ["R2"]), ("A2", ["a2"], ["A"]), ("B", ["b"], ["A2"]), ("B2", ["b2"], ["B"]),
    ("C", ["c"], ["B2"]), ("D", ["d"], ["R2"]), ("D2", ["d2"], ["D"]), ("E", ["e"], ["D2"]),
    ("G", ["g"], ["A2"]), ("C2", ["c2"], ["B2"]), ("E2", ["e2"], ["D2"]),
]


@pytest.fixture
def ordered(tmp_path):
    ids = write_wordnet(tmp_path / "wn2", ORDER_SYNSETS)
    return WordNet(tmp_path / "wn2"), ids


def test_order_mode_keeps_the_order_and_takes_the_nearest_listed_ancestor(ordered):
    wn, ids = ordered
    # Darknet's layout: top group, then depth-first each node's group (A's, B's, D's)
    order = [ids[k] for k in ("R", "A", "D", "B", "G", "C", "C2", "E", "E2")]
    result = order_tree(wn, order)
    assert result.tree.names == order
    expect = {"A": "R", "D": "R", "B": "A", "G": "A", "E": "D", "E2": "D", "C": "B", "C2": "B"}
    assert {k: parent_of(result, ids, k) for k in expect} == {k: ids[v] for k, v in expect.items()}
    assert int(result.tree.parent[0]) == -1 and result.adopted == []


def test_order_mode_skips_levels_that_are_not_listed(ordered):
    wn, ids = ordered
    result = order_tree(wn, [ids[k] for k in ("R", "A", "C", "C2")])
    assert parent_of(result, ids, "C") == parent_of(result, ids, "C2") == ids["A"]


def test_order_mode_reports_nodes_it_had_to_adopt(ordered):
    wn, ids = ordered
    # Z has no listed ancestor but the top group has ended: it joins the run it sits in
    result = order_tree(wn, [ids[k] for k in ("R", "A", "Z", "D")])
    assert result.adopted == [ids["Z"]]
    assert parent_of(result, ids, "Z") == ids["R"]


# Darknet's 9k.tree around "conserve": conserve is two steps below sweet, one below confiture
LAYOUT_SYNSETS = [
    ("R", ["dainty"], []), ("S", ["sweet"], ["R"]), ("F", ["confiture"], ["S"]), ("K", ["candy"], ["S"]),
    ("X", ["conserve"], ["F"]), ("J", ["jam"], ["X"]), ("B", ["apple_butter"], ["X"]),
    ("T", ["toffee"], ["K"]), ("T2", ["fudge"], ["K"]),
]


def test_order_mode_takes_the_parent_darknets_layout_implies(tmp_path):
    ids = write_wordnet(tmp_path / "wn3", LAYOUT_SYNSETS)
    wn = WordNet(tmp_path / "wn3")
    # conserve could join sweet's group (2 steps, one group fewer), but then jam's group would
    # come before candy's: in Darknet's layout the group after sweet's belongs to confiture
    order = [ids[k] for k in ("R", "S", "F", "K", "X", "J", "B", "T", "T2")]
    result = order_tree(wn, order)
    assert layout_of(result) == order
    expect = {"S": "R", "F": "S", "K": "S", "X": "F", "J": "X", "B": "X", "T": "K", "T2": "K"}
    assert {k: parent_of(result, ids, k) for k in expect} == {k: ids[v] for k, v in expect.items()}


# Darknet's 9k.tree around "submachine gun" and "day nursery" (child's room is not listed)
RULE_SYNSETS = [
    ("P", ["automatic_firearm"], []), ("A", ["automatic_rifle"], ["P"]), ("M", ["machine_gun"], ["P"]),
    ("U", ["submachine_gun"], ["M"]), ("B1", ["burp_gun"], ["U"]), ("B2", ["Uzi"], ["U"]),
    ("Q", ["bedroom"], []), ("G", ["guestroom"], ["Q"]), ("C", ["child's_room"], ["Q"]),
    ("N", ["nursery"], ["C"]), ("D", ["day_nursery"], ["N"]),
]


@pytest.fixture
def rules(tmp_path):
    ids = write_wordnet(tmp_path / "wn4", RULE_SYNSETS)
    return WordNet(tmp_path / "wn4"), ids


def test_order_mode_hangs_a_node_with_children_under_its_nearest_listed_ancestor(rules):
    wn, ids = rules
    # submachine gun beside machine gun would save a group, but it has children: in Darknet's
    # tree only leaves sit above their nearest listed ancestor
    result = order_tree(wn, [ids[k] for k in ("P", "A", "M", "U", "B1", "B2")])
    assert parent_of(result, ids, "U") == ids["M"]
    assert parent_of(result, ids, "B1") == parent_of(result, ids, "B2") == ids["U"]


def test_order_mode_leaves_no_leaf_alone_in_its_group(rules):
    wn, ids = rules
    # day nursery under nursery would be a group of one leaf; Darknet's tree has none
    result = order_tree(wn, [ids[k] for k in ("Q", "G", "N", "D")])
    assert [parent_of(result, ids, k) for k in ("G", "N", "D")] == [ids["Q"]] * 3


def layout_of(result):
    names = result.tree.names
    parent_of_ = {w: (names[int(p)] if p >= 0 else None) for w, p in zip(names, result.tree.parent)}
    return layout(parent_of_, [w for w, p in parent_of_.items() if p is None])


def test_order_mode_rejects_repeated_and_unknown_wnids(ordered):
    wn, ids = ordered
    with pytest.raises(DataError, match="listed twice"):
        order_tree(wn, [ids["R"], ids["A"], ids["R"]], source="order.txt")
    with pytest.raises(DataError, match="n99999999"):
        order_tree(wn, [ids["R"], "n99999999"], source="order.txt")


@pytest.fixture(scope="module")
def real_wordnet():
    if not REAL:
        pytest.skip("WordNet 3.0 (wordnet-base) not installed")
    return WordNet("/usr/share/wordnet")


def _read(path):
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_order_mode_rebuilds_darknets_9k_tree_from_9k_labels(real_wordnet, tmp_path):
    # data/9k.tree is Darknet's own file: 9k.labels and WordNet 3.0 give it back byte for byte
    order = _read(REPO / "data" / "9k.labels")
    result = order_tree(real_wordnet, order, source="data/9k.labels")
    shipped = read_tree(REPO / "data" / "9k.tree")
    assert shipped.names == order
    differ = [shipped.names[i] for i in range(shipped.n) if shipped.parent[i] != result.tree.parent[i]]
    assert differ == [], f"{len(differ)} of 9418 parents differ: {differ[:10]}"
    write_tree(result.tree, tmp_path / "9k.tree")
    assert (tmp_path / "9k.tree").read_bytes() == (REPO / "data" / "9k.tree").read_bytes()
    # the four nodes WordNet 3.0 cannot place under physical object: bubble, signal, sign, street sign
    assert result.adopted == ["n09229709", "n06791372", "n06793231", "n06794110"]
    assert shipped.n == 9418 and shipped.group_size[0] == 4  # thing, matter, object, atmospheric phenomenon
    coco = _read(REPO / "data" / "coco.wnids")
    assert [order.index(w) for w in coco] == [int(x) for x in _read(REPO / "data" / "coco9k.map")]
    # dog: a few known steps up to physical object
    dog = shipped.names.index("n02084071")
    up = [shipped.names[i] for i in shipped.path_to_root(dog)]
    assert up[0] == "n02084071" and up[-1] == "n00002684"
    assert "n02083346" in up and "n00015388" in up  # canine, animal


@pytest.mark.slow
def test_paper_build_from_9k_labels_gives_a_valid_tree(real_wordnet):
    order = _read(REPO / "data" / "9k.labels")
    roots = ["n00002452", "n00020827", "n00002684", "n11425580"]
    result = build_wordtree(real_wordnet, [LabelList("9k.labels", order, [])], roots, skip_orphans=True,
                            collapse_chains=False)
    tree = result.tree
    assert result.dangling == []  # the old builder left 13 non-label leaves here
    assert tree.names[:4] == roots
    assert len(result.orphans) == 9
    assert set(order) - set(result.orphans) <= set(tree.names)
    for i in range(4, tree.n):  # every edge is a WordNet hypernym edge
        assert tree.names[int(tree.parent[i])] in real_wordnet.synset(tree.names[i]).hypernyms
    dog = tree.names.index("n02084071")
    assert tree.names[tree.path_to_root(dog)[-1]] == "n00002684"


# -- no dangling nodes, collapse ----------------------------------------------------------------

# K's only hypernym is B, and B has two (M first, then A). Once C has put B under A, both of K's
# paths add just K; the tie goes to the first path, R-M-B-K, which joins the tree at B. M lies
# above the join point: adding it would leave a leaf no label needs.
JOIN_SYNSETS = [
    ("R", ["root"], []), ("A", ["a"], ["R"]), ("M", ["m"], ["R"]), ("B", ["b"], ["A"]),
    ("B2", ["b2"], ["M", "A"]), ("C", ["c"], ["B2"]), ("K", ["k"], ["B2"]),
    ("S", ["s"], ["R"]), ("S1", ["s1"], ["S"]), ("S2", ["s2"], ["S1"]), ("L", ["l"], ["S2"]),
    ("L2", ["l2"], ["S2"]),
]


@pytest.fixture
def joined(tmp_path):
    ids = write_wordnet(tmp_path / "wn3", JOIN_SYNSETS)
    return WordNet(tmp_path / "wn3"), ids


def test_nodes_above_the_join_point_are_not_added(joined):
    wn, ids = joined
    # C alone has two paths (via M or A) adding as many nodes: it takes the first, R-M-B2-C;
    # then K's paths both add only K: the first (via M) again, joining at B2
    result = build_wordtree(wn, [labels(ids, "C", "K")], [ids["R"]], collapse_chains=False)
    assert result.dangling == []
    # now put B2 under A first (through a label on A's side), then K via M must not add M
    result = build_wordtree(wn, [labels(ids, "B", "C", "K")], [ids["R"]], collapse_chains=False)
    names = result.tree.names
    tree = result.tree
    leaves = {names[i] for i in range(tree.n) if tree.leaf[i]}
    assert leaves <= {ids[k] for k in ("B", "C", "K")}
    assert result.dangling == []


def test_collapse_removes_single_child_synsets_that_are_not_labels(joined):
    wn, ids = joined
    raw = build_wordtree(wn, [labels(ids, "L", "L2", "C")], [ids["R"]], collapse_chains=False)
    assert {ids["S"], ids["S1"], ids["S2"]} <= set(raw.tree.names)
    result = build_wordtree(wn, [labels(ids, "L", "L2", "C")], [ids["R"]])
    names = result.tree.names
    # S and S1 each had one child: gone; S2 (two children) stays, now under the root
    assert ids["S"] not in names and ids["S1"] not in names
    assert parent_of(result, ids, "S2") == ids["R"]
    assert parent_of(result, ids, "L") == ids["S2"] and parent_of(result, ids, "L2") == ids["S2"]
    # C's chain (M, B2) collapses to C itself under the root
    assert parent_of(result, ids, "C") == ids["R"]
    assert result.tree.n == raw.tree.n - 4 and result.dangling == []
    # every remaining edge goes to a WordNet ancestor
    for i in range(1, result.tree.n):
        assert names[int(result.tree.parent[i])] in wn.ancestors(names[i])


def test_collapse_keeps_a_label_with_one_child(joined):
    wn, ids = joined
    result = build_wordtree(wn, [labels(ids, "S1", "L", "L2")], [ids["R"]])
    assert parent_of(result, ids, "S1") == ids["R"] and parent_of(result, ids, "S2") == ids["S1"]


@pytest.mark.slow
def test_shipped_1k_tree_is_what_the_builder_makes_from_the_imagenet_1k_classes(real_wordnet):
    wnids = _read(REPO / "data" / "imagenet.1k.wnids")
    assert len(wnids) == 1000 and wnids == _read(REPO / "data" / "imagenet.labels.list")[:1000]
    result = build_wordtree(real_wordnet, [LabelList("imagenet.1k.wnids", wnids, [])], ["n00001740"])
    shipped = read_tree(REPO / "data" / "1k.tree")
    assert shipped.names == result.tree.names and list(shipped.parent) == list(result.tree.parent)
    assert abs(shipped.n - 1369) <= 0.01 * 1369        # the paper's WordTree1k
    assert result.dangling == [] and result.orphans == []
    leaves = {shipped.names[i] for i in range(shipped.n) if shipped.leaf[i]}
    assert leaves == set(wnids)                        # every leaf is a class, every class a leaf
    assert _read(REPO / "data" / "1k.labels") == shipped.names
    assert len(_read(REPO / "data" / "1k.names")) == shipped.n
    assert [shipped.names[int(i)] for i in _read(REPO / "data" / "imagenet1k.map")] == wnids
