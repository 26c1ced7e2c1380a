"""The kmeans report without rich prints what rich prints (no terminal: plain text)."""
import io
import random

import pytest
from rich.console import Console
from rich.table import Table

from darkpy.anchors.plainout import Printer, plain_width, table, wrap


def _rich_text(text, width):
    buf = io.StringIO()
    Console(file=buf, width=width).print(text, highlight=False)
    return buf.getvalue()


def _rich_table(headers, rows, width=120):
    buf = io.StringIO()
    t = Table()
    for h in headers:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*r)
    Console(file=buf, width=width).print(t)
    return buf.getvalue()


def _random_text(rnd):
    words = []
    for _ in range(rnd.randrange(0, 40)):
        n = rnd.choice([1, 2, 3, 5, 8, 13, 30, 70, 150])
        words.append("".join(rnd.choice("abcxyz0123456789.,()%=-+;]/") for _ in range(rnd.randrange(1, n + 1))))
    seps = [rnd.choice([" ", " ", " ", "  ", "   "]) for _ in words]
    text = "".join(w + s for w, s in zip(words, seps))
    return rnd.choice(["", " ", "  "]) + text.rstrip(rnd.choice(["", " "]))


@pytest.mark.parametrize("seed", range(4))
def test_wrapping_is_richs(seed):
    rnd = random.Random(seed)
    for _ in range(150):
        text = _random_text(rnd)
        width = rnd.choice([1, 2, 5, 10, 20, 40, 79, 80, 119, 120, 121])
        assert "".join(line + "\n" for line in wrap(text, width)) == _rich_text(text, width), (text, width)


def test_the_report_lines_are_richs():
    line = ("avg IoU 61.47% (best of 5 restarts on a sample of the shapes, then refined on all of up to 10: "
            "the best was found again, seed 0, mean centroids)")
    for width in (80, 119, 120, 121, 200):
        assert "".join(x + "\n" for x in wrap(line, width)) == _rich_text(line, width)


@pytest.mark.parametrize("seed", range(3))
def test_tables_are_richs(seed):
    rnd = random.Random(seed)
    for _ in range(60):
        cols = rnd.randrange(1, 7)
        headers = [rnd.choice(["#", "width", "height", "boxes", "share", "k", "avg IoU", "", "x" * rnd.randrange(1, 12)])
                   for _ in range(cols)]
        rows = [[rnd.choice(["", "0", "knee", f"{rnd.random() * 10 ** rnd.randrange(0, 7):,.4f}", "17.5%"])
                 for _ in range(cols)] for _ in range(rnd.randrange(1, 9))]
        assert "".join(x + "\n" for x in table(headers, rows)) == _rich_table(headers, rows)


def test_printer_writes_plain_text_or_hands_it_to_rich(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    texts = ["k=5 anchors in grid units (416x416, stride 32), smallest first",
             "markup [bold]here[/bold] and [region]", "an emoji :thumbs_up: code", "tabs\tand\nnewlines",
             "caf\u00e9 \u00fcber", "x" * 300]
    out, ref = io.StringIO(), io.StringIO()
    made = []

    def make():
        made.append(1)
        return Console(file=out, width=120)

    p = Printer(out, 120, make)
    r = Console(file=ref, width=120)
    for t in texts:
        p.print(t)
        r.print(t, highlight=False)
    p.table(["#", "width"], [["0", "1.5"], ["1", "[x]"]])
    p.table(["#", "width"], [["0", "1.5"], ["1", "22"]])
    for rows in ([["0", "1.5"], ["1", "[x]"]], [["0", "1.5"], ["1", "22"]]):
        t = Table()
        for h in ("#", "width"):
            t.add_column(h, justify="right")
        for row in rows:
            t.add_row(*row)
        r.print(t)
    assert out.getvalue() == ref.getvalue()
    assert made  # the odd ones went to rich
    assert not p.is_terminal


def test_plain_width_follows_richs_rules(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    s = io.StringIO()
    assert plain_width(s, 120) == 120
    monkeypatch.setenv("COLUMNS", "57")
    assert plain_width(s) == 57 == Console(file=s).width
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert plain_width(s, 120) is None
