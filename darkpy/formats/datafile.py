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

from darkpy.errors import DataError


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
            return int(self.options[key])
        except ValueError:
            raise DataError(f"'{key}' must be an integer, got {self.options[key]!r}",
                            file=self.path, line=self.lines.get(key)) from None

    @property
    def classes(self) -> int:
        n = self.int("classes")
        if n is None:
            raise DataError("no 'classes=' entry", file=self.path)
        return n

    def resolve(self, key: str, default: str | None = None) -> Path | None:
        """The path named by `key`: as written if it exists, else relative to the .data file."""
        value = self.options.get(key, default)
        if value is None:
            return None
        p = Path(value).expanduser()
        if p.is_absolute() or p.exists():
            return p
        beside = self.path.parent / p
        return beside if beside.exists() else p


def read_data_file(path: str | Path) -> DataFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read .data file: {exc.strerror}", file=path) from None
    data = DataFile(path)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if "=" not in line:
            raise DataError(f"expected 'key = value', got {raw.strip()!r}", file=path, line=number)
        key, value = line.split("=", 1)
        key = key.strip()
        if key in data.options:
            warnings.warn(f"{path}:{number}: '{key}' repeated; Darknet keeps the first value "
                          f"({data.options[key]}, line {data.lines[key]})", stacklevel=2)
            continue
        data.options[key] = value.strip()
        data.lines[key] = number
    return data


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
    """The lines of a small text file (names, lists, maps); a read error is one line naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {what}: {exc.strerror}", file=path) from None


def read_names(path: str | Path) -> list[str]:
    """One class name per line, as Darknet's `get_labels` reads them (blank lines kept out)."""
    return [line.strip() for line in read_lines(path, "names file") if line.strip()]


def read_list(path: str | Path) -> list[str]:
    """An image list: one path per line (blank lines and trailing spaces ignored)."""
    return [line.strip() for line in read_lines(path, "list") if line.strip()]


def read_map(path: str | Path) -> list[int]:
    """A Darknet `map=` file: one integer per line, the id written for each class in turn."""
    out = []
    for number, raw in enumerate(read_lines(path, "map file"), 1):
        if not raw.strip():
            continue
        try:
            out.append(int(raw.strip()))
        except ValueError:
            raise DataError(f"expected an integer, got {raw.strip()!r}", file=path, line=number) from None
    return out
