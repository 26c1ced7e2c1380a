from pathlib import Path

import pytest

from tests.wordtree.wordnet_fake import write_wordnet

REAL = Path("/usr/share/wordnet/data.noun").is_file()

SYNSETS = [
    ("R", ["physical_object"], []),
    ("A", ["animal"], ["R"]),
    ("P", ["pet"], ["R"]),
    ("D", ["dog", "domestic_dog"], ["A", "P"]),
    ("C", ["cat"], ["A"]),
]


@pytest.fixture
def wn(tmp_path):
    ids = write_wordnet(tmp_path / "wn", SYNSETS)
    return tmp_path / "wn", ids


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_build_writes_tree_names_labels_and_a_map_per_list(cli, wn, tmp_path):
    folder, ids = wn
    animals = write(tmp_path / "animals.wnids", ids["C"], ids["D"])
    coco = write(tmp_path / "mini.names", "doggy", "kitty")
    coco_ids = write(tmp_path / "mini.wnids", ids["D"], ids["C"])
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", animals,
                         "--map", f"{coco}={coco_ids}", "-o", tmp_path / "out" / "zoo")
    assert code == 0, err
    assert "nodes         4" in out
    tree = (tmp_path / "out" / "zoo.tree").read_text().split("\n")
    assert tree[:4] == [f"{ids['R']} -1", f"{ids['A']} 0", f"{ids['C']} 1", f"{ids['D']} 1"]
    assert (tmp_path / "out" / "zoo.names").read_text() == "physical object\nanimal\ncat\ndog\n"
    assert (tmp_path / "out" / "zoo.labels").read_text().split() == [ids[k] for k in "RACD"]
    assert (tmp_path / "out" / "animalszoo.map").read_text() == "2\n3\n"
    assert (tmp_path / "out" / "minizoo.map").read_text() == "3\n2\n"


def test_build_accepts_name_wnid_lines(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "two.txt", f"hot dog {ids['D']}", f"cat {ids['C']}")
    code, _, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                       "-o", tmp_path / "t")
    assert code == 0, err


def test_unknown_wnid_is_listed_and_skip_missing_leaves_it_out(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "x.wnids", ids["C"], "n09999999")
    code, _, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                       "-o", tmp_path / "t")
    assert code == 2 and "n09999999" in err and "--skip-missing" in err
    code, _, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                       "--skip-missing", "--no-collapse", "-o", tmp_path / "t")
    assert code == 0, err
    assert (tmp_path / "xt.map").read_text() == "2\n-1\n"


def test_a_line_that_is_not_a_wnid_names_its_line(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "bad.wnids", ids["C"], "dog")
    code, _, err = cli("wordtree", "build", "--wordnet", folder, "--labels", lst, "-o", tmp_path / "t")
    assert code == 2 and f"{lst}:2" in err and "--map" in err


def test_missing_database_says_where_it_looked_and_how_to_install(cli, tmp_path):
    lst = write(tmp_path / "x.wnids", "n02084071")
    code, _, err = cli("wordtree", "build", "--wordnet", tmp_path / "none", "--labels", lst,
                       "-o", tmp_path / "t")
    assert code == 2
    assert str(tmp_path / "none") in err and "apt-get install wordnet-base" in err


def test_build_refuses_to_overwrite_without_force(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "x.wnids", ids["C"])
    args = ["wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
            "-o", tmp_path / "t"]
    assert cli(*args)[0] == 0
    code, _, err = cli(*args)
    assert code == 2 and "--force" in err
    assert cli(*args, "--force")[0] == 0


def test_overwrite_hint_offers_tree_only_only_when_it_would_help(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "x.wnids", ids["C"])
    args = ["wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst, "-o", tmp_path / "t"]
    assert cli(*args)[0] == 0
    code, _, err = cli(*args, "--tree-only")       # the tree itself is in the way
    assert code == 2 and "--force" in err and "--tree-only" not in err
    (tmp_path / "t.tree").unlink()                   # only names/labels/map are in the way
    code, _, err = cli(*args)
    assert code == 2 and "(or --tree-only)" in err
    assert cli(*args, "--tree-only")[0] == 0


def test_order_mode_tree_only_writes_just_the_tree(cli, wn, tmp_path):
    folder, ids = wn
    order = write(tmp_path / "k.labels", ids["R"], ids["A"], ids["P"], ids["C"], ids["D"])
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--order", order, "--tree-only",
                         "-o", tmp_path / "k")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["k.labels", "k.tree"]
    assert (tmp_path / "k.tree").read_text().split("\n")[3:5] == [f"{ids['C']} 1", f"{ids['D']} 1"]


def test_show_prints_statistics_and_a_named_path(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "x.wnids", ids["C"], ids["D"])
    cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst, "-o", tmp_path / "z")
    code, out, err = cli("wordtree", "show", tmp_path / "z.tree", "--wnid", ids["D"])
    assert code == 0, err
    assert "nodes         4" in out and "depth         3" in out and "leaves        2" in out
    assert "largest group 2" in out
    assert out.rstrip().endswith(f"{ids['D']}  dog")
    code, _, err = cli("wordtree", "show", tmp_path / "z.tree", "--wnid", "n01234567")
    assert code == 2 and "not a node" in err


def test_check_accepts_a_good_tree(cli, golden):
    code, out, _ = cli("wordtree", "check", golden / "cfg" / "mini.tree")
    assert code == 0 and "ok (9 nodes" in out


@pytest.mark.parametrize("lines, message, line", [
    (["a -1", "b 2", "c 1"], "cycle", 2),
    (["a -1", "b 0", "c -1", "d 0"], "not contiguous", 3),
    (["a -1", "b 0", "a 0"], "listed twice", 3),
    (["a -1", "b 7"], "out of range", 2),
    (["a -1", "b 0 x"], "expected 'name parent'", 2),
])
def test_check_names_the_broken_line(cli, tmp_path, lines, message, line):
    path = write(tmp_path / "bad.tree", *lines)
    code, _, err = cli("wordtree", "check", path)
    assert code == 2
    assert message in err and f"bad.tree:{line}:" in err


@pytest.mark.skipif(not REAL, reason="WordNet 3.0 (wordnet-base) not installed")
def test_shipped_9k_tree_checks_and_shows_dog(cli, repo):
    code, out, _ = cli("wordtree", "check", repo / "data" / "9k.tree")
    assert code == 0 and "9418 nodes" in out
    code, out, _ = cli("wordtree", "show", repo / "data" / "9k.tree", "--wnid", "n02084071")
    assert code == 0
    assert "object" in out and out.rstrip().endswith("n02084071  dog")


def test_option_mistakes_are_one_line_usage_errors(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "x.wnids", ids["C"])
    base = ["wordtree", "build", "--wordnet", folder, "-o", tmp_path / "t"]
    assert "NAMES=WNIDS" in cli(*base, "--map", "coco.names")[2]
    assert "not a WordNet id" in cli(*base, "--labels", lst, "--root", "thing")[2]
    assert "--root has no effect" in cli(*base, "--order", lst, "--root", ids["R"])[2]
    code, _, err = cli("wordtree", "build", "--wordnet", folder, "--labels", lst)
    assert code == 2 and "-o/--out" in err
    assert "--root needs --labels" in cli("wordtree", "build", "--root", ids["R"])[2]
    names = write(tmp_path / "two.names", "a", "b")
    code, _, err = cli(*base, "--map", f"{names}={lst}")
    assert code == 2 and "must be parallel" in err


def test_show_counts_nodes_and_dangling_leaves_of_the_shipped_1k_tree(cli, repo):
    code, out, err = cli("wordtree", "show", repo / "data" / "1k.tree", "--labels",
                         repo / "data" / "imagenet.1k.wnids")
    assert code == 0, err
    assert "nodes         1374" in out and "leaves        1000" in out and "dangling      0" in out
    code, out, _ = cli("wordtree", "show", repo / "data" / "1k.tree", "--labels", repo / "data" / "coco.wnids")
    assert code == 0 and "dangling      1000" not in out and "missing" in out


def test_build_reports_no_dangling_nodes_and_collapses_by_default(cli, wn, tmp_path):
    folder, ids = wn
    lst = write(tmp_path / "c.wnids", ids["C"])
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                         "-o", tmp_path / "t")
    assert code == 0, err
    assert "dangling      0" in out and "nodes         2" in out   # R and C: animal collapsed
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                         "--no-collapse", "--force", "-o", tmp_path / "t")
    assert code == 0 and "nodes         3" in out


@pytest.mark.skipif(not REAL, reason="WordNet 3.0 (wordnet-base) not installed")
def test_build_with_no_arguments_writes_the_yolo9000_tree_here(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("wordtree", "build")
    assert code == 0, err
    assert out.startswith("building the YOLO9000 tree: --labels data/9k.labels")
    assert "nodes         9416" in out and "top level     4" in out
    assert "dangling      0 " in out and "missing       9 " in out   # the 9 without a path to a root
    written = ["9k.tree", "9k.names", "9k.labels", "9k9k.map", "coco9k.map"]
    assert [line for line in out.splitlines() if line.startswith("wrote")] == [f"wrote {n}" for n in written]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    code, _, err = cli("wordtree", "build")
    assert code == 2 and "--force" in err
    code, out, err = cli("wordtree", "show", "9k.tree", "--labels", "data/9k.labels", "--labels", "data/coco.wnids")
    assert code == 0, err
    assert "dangling      0 " in out and "missing       9 " in out


def _counts(out):
    return [line.split()[:2] for line in out.splitlines() if line.startswith(("dangling", "missing"))]


def test_build_and_show_count_dangling_and_missing_alike(cli, tmp_path):
    # O has no path to the root (missing); in order mode, leaves not in --labels are dangling
    folder = tmp_path / "wn"
    ids = write_wordnet(folder, SYNSETS + [("O", ["orphan"], [])])
    lst = write(tmp_path / "l.wnids", ids["C"], ids["D"], ids["O"])
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--root", ids["R"], "--labels", lst,
                         "--skip-orphans", "-o", tmp_path / "t")
    assert code == 0, err
    assert _counts(out) == [["dangling", "0"], ["missing", "1"]]
    code, shown, err = cli("wordtree", "show", tmp_path / "t.tree", "--labels", lst)
    assert code == 0, err
    assert _counts(shown) == _counts(out)
    order = write(tmp_path / "order.wnids", ids["R"], ids["A"], ids["P"], ids["C"], ids["D"])
    only_cat = write(tmp_path / "cat.wnids", ids["C"])
    code, out, err = cli("wordtree", "build", "--wordnet", folder, "--order", order, "--labels", only_cat,
                         "-o", tmp_path / "k")
    assert code == 0, err
    assert _counts(out) == [["dangling", "2"]]   # P and D are leaves; only C is a label
    code, shown, err = cli("wordtree", "show", tmp_path / "k.tree", "--labels", only_cat)
    assert _counts(shown) == _counts(out)
