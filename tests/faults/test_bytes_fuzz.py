"""The byte/encoding fuzzer (tests/faults/fuzz_bytes.py) over cfg, label, list, names and .data
files: at least 1,000 seeded cases, each ok with the right meaning or one line; no traceback, no
hang, nothing written outside the output folder."""
from __future__ import annotations

import random
import time

import pytest

from tests.faults.fuzz_bytes import NEUTRAL, OPS, ByteFuzzer, mutate_bytes


def test_1000_byte_and_encoding_mutants_end_cleanly(tmp_path):
    before = {p.name for p in tmp_path.parent.iterdir()}
    t0 = time.perf_counter()
    fuzz = ByteFuzzer(tmp_path / "fuzz", seed=21).run_all(cfg=330, labels=250, lists=150, names=150, data=170)
    seconds = time.perf_counter() - t0
    tally = fuzz.tally
    assert tally.tried >= 1000
    assert not tally.tracebacks, "\n".join(tally.tracebacks[:5])
    assert not fuzz.problems, "\n".join(fuzz.problems[:5])
    assert not fuzz.outside() and {p.name for p in tmp_path.parent.iterdir()} == before
    assert tally.ok > 200 and tally.clean > 200  # both outcomes exercised
    print(f"{tally.tried} byte/encoding mutants: {tally.ok} ok, {tally.clean} one-line errors, "
          f"{len(tally.tracebacks)} tracebacks in {seconds:.1f} s")


@pytest.mark.parametrize("op", OPS)
def test_every_mutation_does_something(op):
    data = b"[net]\nwidth=96\nheight=96\n"
    new, what = mutate_bytes(data, random.Random(1), op)
    assert what and (new != data or op == "no-final-newline" and new == data.rstrip(b"\n"))


def test_neutral_mutations_are_the_ones_darknet_reads_alike():
    assert set(NEUTRAL) == {"crlf", "trailing-space", "no-final-newline"}
