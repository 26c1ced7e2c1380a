"""The kmeans report's lines and tables, printed as rich prints them, without importing rich
where the output is not a terminal.

Importing rich costs about as much as a k-means over a cached label set. When a stream is not a
terminal rich adds no colour or style, so its output there is plain text: lines wrapped at the
console width as rich wraps them, tables drawn with its default box. `Printer` writes exactly
that for printable-ASCII text without markup (`[`) or emoji codes (`:name:`), and hands anything
else (a terminal, FORCE_COLOR and the like, other text) to a rich Console configured as before.
A test keeps the two outputs equal.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Sequence

_ENV_RICH = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
_PLAIN_TEXT = re.compile(r"[ -Z\\\]^-~]*")      # printable ASCII except "["
_EMOJI = re.compile(r":\S*?:")
_WORDS = re.compile(r"\s*\S+\s*")
# rich's HEAVY_HEAD box: top, header cells, below the header, body cells, bottom
_BOX = ("┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "└─┴┘")


def plain_width(stream, width: int | None = None) -> int | None:
    """The width a rich Console(file=stream, width=width) wraps at when it prints plain text,
    or None when that console would use a terminal, colours or any other rich behaviour."""
    env = os.environ
    if os.name != "posix" or any(name in env for name in _ENV_RICH):
        return None
    if "IPython" in sys.modules or "idlelib" in sys.modules or "ipykernel" in sys.modules:
        return None
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    if width is not None:
        return width
    columns = env.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns) or 80
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _plain(text: str) -> bool:
    return bool(_PLAIN_TEXT.fullmatch(text)) and not _EMOJI.search(text)


def wrap(text: str, width: int) -> list[str]:
    """rich's wrapping of one plain line (`Text.wrap`, justify default, overflow fold)."""
    breaks: list[int] = []
    offset = 0
    for m in _WORDS.finditer(text):
        start, word = m.start(), m.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:             # a word longer than a line: folded
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for i, piece in enumerate(pieces):
                if start:
                    breaks.append(start)
                if i == len(pieces) - 1:
                    offset = len(piece)
                else:
                    start += len(piece)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    lines = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)])]
    out = []
    for line in lines:
        if len(line) > width:            # rstrip_end: trailing spaces beyond the width
            excess = len(line) - width
            spaces = len(line) - len(line.rstrip())
            line = line[: len(line) - min(spaces, excess)]
        out.append(line[:width])
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A rich `Table()` whose columns are all right-justified, as lines (None-free cells)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def rule(box: str) -> str:
        return box[0] + box[2].join(box[1] * (w + 2) for w in widths) + box[3]

    def cells(box: str, values: Sequence[str]) -> str:
        return box[0] + box[1].join(f" {v:>{w}} " for v, w in zip(values, widths)) + box[2]

    return [rule(_BOX[0]), cells(_BOX[1], headers), rule(_BOX[2]),
            *(cells(_BOX[3], r) for r in rows), rule(_BOX[4])]


class Printer:
    """print(text) and table(headers, rows) on one stream, as the rich Console that `make`
    builds would print them."""

    def __init__(self, stream, width: int | None, make):
        self.stream = stream
        self.make = make                 # () -> the rich Console for everything else
        self.width = plain_width(stream, width)
        self._rich = None

    @property
    def rich(self):
        if self._rich is None:
            self._rich = self.make()
        return self._rich

    @property
    def is_terminal(self) -> bool:
        return False if self.width is not None else self.rich.is_terminal

    def print(self, text: str) -> None:
        """`console.print(text, highlight=False)`."""
        if self.width is not None and _plain(text):
            self.stream.write("".join(line + "\n" for line in wrap(text, self.width)))
            self.stream.flush()
        else:
            self.rich.print(text, highlight=False)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """`console.print(Table)` with these right-justified columns."""
        lines = None
        if self.width is not None and all(_plain(c) for c in (*headers, *(c for r in rows for c in r))):
            lines = table(headers, rows)
            if (rows and len(lines[0]) <= self.width
                    and all(c.strip() == c for c in (*headers, *(c for r in rows for c in r)))):
                self.stream.write("".join(line + "\n" for line in lines))
                self.stream.flush()
                return
        from rich.table import Table

        t = Table()
        for h in headers:
            t.add_column(h, justify="right")
        for r in rows:
            t.add_row(*r)
        self.rich.print(t)
