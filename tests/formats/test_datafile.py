"""The one `.data` reader: typed config, Darknet's first-value-wins, paths resolved one way."""
import warnings

import pytest

from darkpy.errors import DataError
from darkpy.formats.datafile import read_data_config, read_data_file


def test_repeated_key_keeps_the_first_value_with_a_warning(tmp_path):
    data = tmp_path / "x.data"
    data.write_text("classes = 3\ntrain = a.txt\nclasses = 5\n")
    with pytest.warns(UserWarning, match=r"x\.data:3: 'classes' repeated; Darknet keeps the first value \(3, line 1\)"):
        df = read_data_file(data)
    assert df.classes == 3 and df.lines["classes"] == 1


def test_typed_config_resolves_paths_beside_the_data_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    (tmp_path / "train.txt").write_text("a.jpg\n")
    data = tmp_path / "x.data"
    data.write_text("classes= 2\ntrain = train.txt\nnames = none.names\nbackup = out/\ntop = 5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = read_data_config(data)
    assert config.classes == 2 and config.top == 5
    assert config.train == tmp_path / "train.txt"          # found beside the .data file
    assert str(config.names) == "none.names"                # not found anywhere: as written
    assert config.valid is None and config.labels is None
    assert config.line("train") == 2 and config.path == data


def test_bad_integer_names_file_and_line(tmp_path):
    data = tmp_path / "x.data"
    data.write_text("train = t\nclasses = many\n")
    with pytest.raises(DataError, match=r"x\.data:2: 'classes' must be an integer"):
        read_data_config(data)
