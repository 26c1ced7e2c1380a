"""Darknet `.cfg` files: sections of `key=value` options, read exactly as Darknet reads them.

Darknet removes every whitespace character from a line before looking at it, skips lines that
start with `#` or `;`, and opens a section at `[name]`. A key given twice keeps its FIRST value
(Darknet's option lookup walks the list from the front); darkpy does the same and warns.

Unlike Darknet, which ignores keys it does not know and reads `12abc` as 12, darkpy rejects
unknown keys and malformed numbers with the file and line, because both are always mistakes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from darkpy.assets import locate
from darkpy.errors import CfgError


@dataclass
class Option:
    key: str
    value: str
    line: int


@dataclass
class Section:
    """One `[name]` block. Typed getters record which keys were read, so that leftovers can be
    reported as unknown keys once the layer has taken what it understands."""

    name: str
    line: int
    file: str
    options: dict[str, Option] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    index: int | None = None  # layer index once the network builder reaches it

    def error(self, message: str, key: str | None = None) -> CfgError:
        line = self.options[key].line if key in self.options else self.line
        where = f"layer {self.index} [{self.name}]" if self.index is not None else f"[{self.name}]"
        return CfgError(f"{where}: {message}", file=self.file, line=line)

    def has(self, key: str) -> bool:
        return key in self.options

    def raw(self, key: str) -> str | None:
        self.used.add(key)
        opt = self.options.get(key)
        return None if opt is None else opt.value

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        return default if value is None else value

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                as_float = None
            if as_float is not None and as_float.is_integer():
                return int(as_float)
            raise self.error(f"'{key}' must be an integer, got {value!r}", key) from None

    def float(self, key: str, default: float | None = None) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise self.error(f"'{key}' must be a number, got {value!r}", key) from None

    def bool(self, key: str, default: bool = False) -> bool:
        return bool(self.int(key, int(default)))

    def floats(self, key: str, default: list[float] | None = None) -> list[float]:
        value = self.raw(key)
        if value is None:
            return list(default or [])
        parts = [p for p in value.split(",") if p != ""]
        try:
            return [float(p) for p in parts]
        except ValueError:
            raise self.error(f"'{key}' must be a comma list of numbers, got {value!r}", key) from None

    def ints(self, key: str, default: list[int] | None = None) -> list[int]:
        values = self.floats(key, None if default is None else [float(v) for v in default])
        if any(not float(v).is_integer() for v in values):
            raise self.error(f"'{key}' must be a comma list of integers, got {self.options[key].value!r}", key)
        return [int(v) for v in values]

    def unknown_keys(self) -> list[str]:
        return [k for k in self.options if k not in self.used]

    def check_all_used(self) -> None:
        unknown = self.unknown_keys()
        if unknown:
            key = unknown[0]
            raise self.error(f"unknown key '{key}'", key)


SECTION_ALIASES = {
    "network": "net", "conv": "convolutional", "conn": "connected", "max": "maxpool",
    "avg": "avgpool", "soft": "softmax",
}


def parse_cfg_text(text: str, file: str | Path = "<cfg>") -> list[Section]:
    file = str(file)
    sections: list[Section] = []
    current: Section | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = "".join(raw.split())
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if not line.endswith("]") or len(line) < 3:
                raise CfgError(f"malformed section header {raw.strip()!r}", file=file, line=number)
            name = line[1:-1].lower()
            current = Section(SECTION_ALIASES.get(name, name), number, file)
            sections.append(current)
            continue
        if current is None:
            raise CfgError(f"option {raw.strip()!r} before any [section]", file=file, line=number)
        key, eq, value = line.partition("=")
        if not eq or not key or value == "":
            raise CfgError(f"expected 'key=value', got {raw.strip()!r}", file=file, line=number)
        if key in current.options:
            first = current.options[key]
            warnings.warn(
                f"{file}:{number}: '{key}' repeated in [{current.name}]; Darknet keeps the first value "
                f"({first.value}, line {first.line})", stacklevel=2)
            continue
        current.options[key] = Option(key, value, number)
    if not sections:
        raise CfgError("no sections found (is this a Darknet .cfg?)", file=file)
    if sections[0].name != "net":
        raise CfgError(f"first section must be [net] or [network], got [{sections[0].name}]",
                       file=file, line=sections[0].line)
    return sections


def parse_cfg(path: str | Path) -> list[Section]:
    path = locate(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CfgError(f"cannot read cfg: {exc.strerror}", file=path) from None
    return parse_cfg_text(text, path)
