"""Darknet `.cfg` files: sections of `key=value` options, read exactly as Darknet reads them.

Darknet reads a line up to `\n` (a `\r` before it is tolerated here), removes every space and
tab from it before looking at it, skips lines that start with `#` or `;`, and opens a section at
`[name]`. Nothing else ends a line or is removed: a form feed, `\x85` or U+2028 is a character of
the line (`#note\x0cwidth=64` is one comment), and a non-breaking space stays in the value, where
`atoi` would stop (`filters=\u00a0125` is refused, not read as 125). A key given twice keeps its FIRST value
(Darknet's option lookup walks the list from the front); darkpy does the same and warns.

Unlike Darknet, which ignores keys it does not know and reads `12abc` as 12, darkpy rejects
unknown keys and malformed numbers with the file and line, because both are always mistakes.

This is the one cfg reader: the network builder and `kmeans --write-cfg` both read a
`CfgDocument`, which keeps the file's text (comments, order, blank lines, line endings) next to
the sections, so a value can be set and the text written back byte-identical except the edited
lines.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from darkpy.assets import locate
from darkpy.errors import CfgError
from darkpy.fileio import atomic_write, open_regular
from darkpy.net import cfgvalues


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

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value as written (first occurrence), without marking the key as read."""
        opt = self.options.get(key)
        return default if opt is None else opt.value

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
            return self._in_range(key, cfgvalues.parse_int(value))
        except ValueError:
            raise self.error(f"'{key}' must be an integer, got {value!r} (plain ASCII digits, "
                             f"at most {cfgvalues.INT_MAX} in size)", key) from None

    def _in_range(self, key: str, value):
        problem = cfgvalues.range_problem(key, value)
        if problem is not None:
            raise self.error(problem, key)
        return value

    def float(self, key: str, default: float | None = None) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = cfgvalues.parse_float(value)
        except ValueError:
            raise self.error(f"'{key}' must be a number, got {value!r} (finite, ASCII decimal notation)", key) from None
        return self._in_range(key, number)

    def bool(self, key: str, default: bool = False) -> bool:
        return bool(self.int(key, int(default)))

    def floats(self, key: str, default: list[float] | None = None) -> list[float]:
        value = self.raw(key)
        if value is None:
            return list(default or [])
        parts = [p for p in value.split(",") if p != ""]
        try:
            return [cfgvalues.parse_float(p) for p in parts]
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


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Lines as Darknet's `fgetl` reads them: split at `\n` only (`str.splitlines` would also split
    at form feeds, `\x85`, U+2028... and shift every line number after them)."""
    parts = text.split("\n")
    if keepends:
        lines = [p + "\n" for p in parts[:-1]]
        return lines + ([parts[-1]] if parts[-1] else [])
    return parts[:-1] if parts and parts[-1] == "" else parts


def _darknet_strip(raw: str) -> str:
    # Darknet's strip(): spaces and tabs anywhere; the '\r' of a CRLF file
    return raw.rstrip("\r").replace(" ", "").replace("\t", "")


def parse_cfg_text(text: str, file: str | Path = "<cfg>") -> list[Section]:
    file = str(file)
    sections: list[Section] = []
    current: Section | None = None
    for number, raw in enumerate(split_lines(text), 1):
        line = _darknet_strip(raw)
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
    # reading only: a bundled cfg by its relative name (kmeans --write-cfg never writes into the bundle)
    return read_cfg_document(locate(path)).sections


# -- the editable document ------------------------------------------------------------------

_VALUE = re.compile(r"^([^=]*=[ \t]*)(.*?)([ \t]*)$")


@dataclass
class Change:
    line: int         # 1-based, in the original file (for inserted lines: the line it follows)
    old: str | None
    new: str

    def __str__(self) -> str:
        if self.old is None:
            return f"line {self.line}: inserted after it: {self.new}"
        return f"line {self.line}: {self.old} -> {self.new}"


@dataclass
class CfgDocument:
    """A cfg file as its raw lines (endings kept) plus the sections Darknet would see.

    `set` records edits against the original line numbers (the sections keep theirs); `text()`
    renders the file with them applied, every other byte as read."""

    path: Path | None
    lines: list[str]
    sections: list[Section]
    newline: str = "\n"
    edits: dict[int, str] = field(default_factory=dict)          # 0-based line -> new line text
    inserts: dict[int, list[str]] = field(default_factory=dict)  # 0-based line -> lines after it
    changes: list[Change] = field(default_factory=list)

    @property
    def net(self) -> Section:
        return self.sections[0]

    def set(self, section: Section, key: str, value: str, after: str | None = None) -> Change | None:
        """Give `key` of `section` a new value: its (first, the one Darknet reads) line is edited,
        or, when the key is absent, a `key=value` line is inserted after the `after` key's line
        (else after the section header). Returns the change, None when the value is already so."""
        opt = section.options.get(key)
        if opt is not None:
            i = opt.line - 1
            body = self.edits.get(i, self.lines[i]).rstrip("\r\n")
            ending = self.lines[i][len(self.lines[i].rstrip("\r\n")):]
            m = _VALUE.match(body)
            if m is None:  # pragma: no cover - every option line was parsed as key=value
                raise CfgError(f"cannot edit {body.strip()!r}", file=self.path, line=opt.line)
            if m.group(2) == value:
                return None
            new = m.group(1) + value + m.group(3)
            self.edits[i] = new + ending
            opt.value = _darknet_strip(value)
            change = Change(opt.line, self.lines[i].strip(), new.strip())
        else:
            at = section.options[after].line if after and after in section.options else section.line
            self.inserts.setdefault(at - 1, []).append(f"{key}={value}")
            section.options[key] = Option(key, value, at)
            change = Change(at, None, f"{key}={value}")
        self.changes = [c for c in self.changes if not (c.old is not None and c.line == change.line)]
        self.changes.append(change)
        self.changes.sort(key=lambda c: c.line)
        return change

    def text(self) -> str:
        out = []
        for i, line in enumerate(self.lines):
            line = self.edits.get(i, line)
            extra = self.inserts.get(i)
            if extra and not line.endswith(("\n", "\r")):
                line += self.newline
            out.append(line)
            out.extend(t + self.newline for t in extra or ())
        return "".join(out)

    def write(self, path: str | Path | None = None) -> Path:
        """Write the text atomically. Writing the document's own file follows a symlink (the
        target is edited, the link kept) and keeps the file's permission bits."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CfgError("this cfg was not read from a file: give a path to write")
        target = Path(os.path.realpath(target))
        mode = None
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            pass
        with atomic_write(target, "wb") as fh:
            fh.write(self.text().encode("utf-8", errors="surrogateescape"))
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
        return target


def parse_cfg_document(text: str, file: str | Path | None = None) -> CfgDocument:
    """`text` may hold surrogate escapes (bytes that are not UTF-8): the lines keep them for a
    byte-exact rewrite, the sections see U+FFFD instead (printable in messages)."""
    lines = split_lines(text, keepends=True)
    readable = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    sections = parse_cfg_text(readable, file if file is not None else "<cfg>")
    newline = "\r\n" if "\r\n" in text else "\n"
    return CfgDocument(Path(file) if file is not None else None, lines, sections, newline)


def read_cfg_document(path: str | Path) -> CfgDocument:
    """Read a cfg losslessly (bytes that are not UTF-8 survive a rewrite)."""
    path = Path(path)
    try:
        with open_regular(path, "cfg", CfgError, "r", encoding="utf-8", errors="surrogateescape",
                          newline="") as fh:
            text = fh.read()
    except OSError as exc:
        raise CfgError(f"cannot read cfg: {exc.strerror}", file=path) from None
    return parse_cfg_document(text, path)
