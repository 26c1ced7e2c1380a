"""Darknet's `.data` files: `key = value` lines naming classes, lists, names, backup folder...

The one reader of `.data` files (training, joint training, evaluation, the classifier, `kmeans`,
`data check`, `detect --data`). As in Darknet's option lists, a key given twice keeps its FIRST
value (with a warning, as for cfg files). `DataConfig` is the typed view: every path resolved
the same way (`DataFile.resolve`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from darkpy.assets import bundled, locate
from darkpy.errors import DataError
from darkpy.fileio import open_regular
from darkpy.formats.numbers import BadNumber, parse_int

#: the smallest value each integer key may have (`classes = -1` would reach numpy as a negative
#: array size; Darknet reads it and fails later or silently)
INT_MINIMUM = {"classes": 1, "top": 1}


@dataclass
class DataFile:
    """A parsed `.data` file. Relative paths are kept as written (Darknet resolves them against
    the working directory); `resolve()` also tries the `.data` file's own folder."""

    path: Path
    options: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def require(self, key: str) -> str:
        if key not in self.options:
            raise DataError(f"no '{key}=' entry", file=self.path)
        return self.options[key]

    def int(self, key: str, default: int | None = None) -> int | None:
        if key not in self.options:
            return default
        try:
            value = parse_int(self.options[key])  # ASCII digits as atoi reads them: not '٣', not '1_0'
        except BadNumber:
            raise DataError(f"'{key}' must be an integer, got {self.options[key]!r} (plain ASCII digits)",
                            file=self.path, line=self.lines.get(key)) from None
        low = INT_MINIMUM.get(key)
        if low is not None and value < low:
            raise DataError(f"'{key}' must be at least {low}, got {value}", file=self.path,
                            line=self.lines.get(key))
        return value

    @property
    def classes(self) -> int:
        n = self.int("classes")
        if n is None:
            raise DataError("no 'classes=' entry", file=self.path)
        return n

    def resolve(self, key: str, default: str | None = None) -> Path | None:
        """The path named by `key`: as written if it exists, else relative to the .data file, else
        the bundled file of that name (`names = data/voc.names` from an installed darkpy)."""
        value = self.options.get(key, default)
        if value is None:
            return None
        p = Path(value).expanduser()
        if p.is_absolute() or p.exists():
            return p
        beside = self.path.parent / p
        return beside if beside.exists() else (bundled(p) or p)


def read_data_file(path: str | Path) -> DataFile:
    path = locate(path)
    text = _read_text(path, ".data file")
    data = DataFile(path)
    for number, raw in enumerate(split_lines(text), 1):
        line = raw.strip(ASCII_SPACE)
        if not line or line[0] in "#;":
            continue
        if "=" not in line:
            raise DataError(f"expected 'key = value', got {raw.strip()!r}", file=path, line=number)
        key, value = line.split("=", 1)
        key = key.strip(ASCII_SPACE)
        if key in data.options:
            warnings.warn(f"{path}:{number}: '{key}' repeated; Darknet keeps the first value "
                          f"({data.options[key]}, line {data.lines[key]})", stacklevel=2)
            continue
        data.options[key] = value.strip(ASCII_SPACE)
        data.lines[key] = number
    return data


ASCII_SPACE = " \t\r\v\f"


def split_lines(text: str) -> list[str]:
    """Lines as Darknet's `fgetl` reads them: split at `\n` only, a `\r` before it tolerated
    (`str.splitlines` also splits at form feeds, `\x85`, U+2028)."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _read_text(path: Path, what: str) -> str:
    try:
        with open_regular(path, what, DataError, "r", encoding="utf-8", errors="replace", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror}", file=path) from None


@dataclass
class DataConfig:
    """The keys of a `.data` file, typed; paths resolved by `DataFile.resolve`, None when absent."""

    source: DataFile
    classes: int | None
    train: Path | None
    valid: Path | None
    names: Path | None
    backup: Path
    labels: Path | None = None
    map: Path | None = None
    classify: Path | None = None
    eval: str | None = None
    results: Path | None = None
    top: int | None = None

    @property
    def path(self) -> Path:
        return self.source.path

    def line(self, key: str) -> int | None:
        return self.source.lines.get(key)


def data_config(data: DataFile) -> DataConfig:
    return DataConfig(
        source=data, classes=data.int("classes"), train=data.resolve("train"), valid=data.resolve("valid"),
        names=data.resolve("names"), backup=data.resolve("backup", "backup/"), labels=data.resolve("labels"),
        map=data.resolve("map"), classify=data.resolve("classify"), eval=data.get("eval"),
        results=data.resolve("results"), top=data.int("top"))


def read_data_config(path: str | Path) -> DataConfig:
    """A `.data` file as a typed `DataConfig` (missing keys are None; callers say what they need)."""
    return data_config(read_data_file(path))


def read_lines(path: str | Path, what: str) -> list[str]:
    """The lines of a small text file (names, lists, maps); a read error is one line naming it.
    A bundled file (`data/voc.names`) is found by its relative name from any folder."""
    path = locate(path)
    return split_lines(_read_text(path, what))


def read_names(path: str | Path) -> list[str]:
    """One class name per line, as Darknet's `get_labels` reads them (blank lines kept out)."""
    return [line.strip(ASCII_SPACE) for line in read_lines(path, "names file") if line.strip(ASCII_SPACE)]


def read_list(path: str | Path) -> list[str]:
    """An image list: one path per line (blank lines and trailing spaces ignored)."""
    return [s for line in read_lines(path, "list") if (s := line.strip(ASCII_SPACE))]


def read_map(path: str | Path) -> list[int]:
    """A Darknet `map=` file: one integer per line, the id written for each class in turn."""
    out = []
    for number, raw in enumerate(read_lines(path, "map file"), 1):
        if not raw.strip():
            continue
        try:
            out.append(parse_int(raw))
        except BadNumber:
            raise DataError(f"expected an integer, got {raw.strip()!r}", file=path, line=number) from None
    return out
