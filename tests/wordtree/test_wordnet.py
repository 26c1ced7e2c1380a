from pathlib import Path

import pytest

from darkpy.errors import DataError
from darkpy.wordtree.wordnet import WordNet, candidate_dirs, find_wordnet, parse_wnid
from tests.wordtree.wordnet_fake import write_wordnet

REAL = Path("/usr/share/wordnet/data.noun").is_file()


@pytest.fixture
def fake(tmp_path):
    ids = write_wordnet(tmp_path / "wn", [
        ("R", ["physical_object", "object"], []),
        ("A", ["animal"], ["R"]),
        ("P", ["pet"], ["R"]),
        ("D", ["dog", "domestic_dog"], ["A", "P"]),
        ("L", ["Lassie"], ["i:D"]),
    ])
    return WordNet(tmp_path / "wn"), ids


def test_synset_reads_lemmas_and_both_kinds_of_hypernym(fake):
    wn, ids = fake
    dog = wn.synset(ids["D"])
    assert dog.words == ("dog", "domestic_dog")
    assert dog.hypernyms == (ids["A"], ids["P"])
    assert wn.synset(ids["L"]).hypernyms == (ids["D"],)  # instance hypernym (@i) counts
    assert wn.synset(ids["R"]).name == "physical object"


def test_offset_that_is_not_a_synset_start_is_absent(fake):
    wn, ids = fake
    off = int(ids["D"][1:]) + 3
    assert wn.synset(f"n{off:08d}") is None
    assert wn.synset("n99999999") is None


def test_hypernym_paths_run_root_first_in_pointer_order(fake):
    wn, ids = fake
    assert wn.hypernym_paths(ids["L"], ids["R"]) == [
        (ids["R"], ids["A"], ids["D"], ids["L"]), (ids["R"], ids["P"], ids["D"], ids["L"])]
    assert wn.hypernym_paths(ids["A"], ids["P"]) == []


def test_lookup_uses_index_noun(fake):
    wn, ids = fake
    assert wn.lookup("Domestic Dog") == [ids["D"]]
    assert wn.lookup("unicorn") == []


def test_parse_wnid_accepts_bare_offsets():
    assert parse_wnid("02084071") == "n02084071"
    assert parse_wnid("n02084071") == "n02084071"
    assert parse_wnid("dog") is None


def test_missing_database_says_where_it_looked_and_how_to_install(tmp_path):
    with pytest.raises(DataError) as exc:
        find_wordnet(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(exc.value)
    assert "apt-get install wordnet-base" in str(exc.value)


def test_wnhome_and_its_dict_folder_are_searched(tmp_path, monkeypatch):
    write_wordnet(tmp_path / "wn" / "dict", [("R", ["thing"], [])])
    monkeypatch.setenv("WNHOME", str(tmp_path / "wn"))
    assert tmp_path / "wn" / "dict" in candidate_dirs()
    assert find_wordnet() == tmp_path / "wn" / "dict"


@pytest.mark.skipif(not REAL, reason="WordNet 3.0 (wordnet-base) not installed")
def test_real_wordnet_dog_reaches_physical_object():
    wn = WordNet("/usr/share/wordnet")
    dog = wn.synset("n02084071")
    assert dog.name == "dog"
    assert set(dog.hypernyms) == {"n02083346", "n01317541"}  # canine, domestic animal
    paths = wn.hypernym_paths("n02084071", "n00002684")
    assert len(paths) == 2
    assert all(p[0] == "n00002684" and p[-1] == "n02084071" for p in paths)
    assert ("n00002684", "n00003553", "n00004258", "n00004475", "n00015388") == paths[0][:5]
    assert wn.lookup("dog")[0] == "n02084071"
