"""Darknet's `.data` files: `key = value` lines naming classes, lists, names, backup folder..."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darkpy.assets import bundled, locate
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
        data.options[key.strip()] = value.strip()
        data.lines[key.strip()] = number
    return data


def read_names(path: str | Path) -> list[str]:
    """One class name per line, as Darknet's `get_labels` reads them (blank lines kept out)."""
    path = locate(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read names file: {exc.strerror}", file=path) from None
    return [line.strip() for line in lines if line.strip()]


def read_list(path: str | Path) -> list[str]:
    """An image list: one path per line (blank lines and trailing spaces ignored)."""
    path = locate(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read list: {exc.strerror}", file=path) from None
    return [line.strip() for line in lines if line.strip()]
