"""A seeded mutation fuzzer for Darknet cfgs, weights files and data sets.

Each case is run in-process the way a command runs it, and classified as the CLI would end:
"ok" (exit 0), "clean" (a `DarkpyError`: one line, exit 2) or "traceback" (anything else: a
bug). The mutants come from the shipped cfgs and the golden ones, so they stay close to files
people really write: a value replaced by something absurd, a line or section dropped, repeated
or moved, a file cut short.
"""
from __future__ import annotations

import random
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "cfg").glob("*.cfg")) + sorted((REPO / "tests" / "golden" / "cfg").glob("*.cfg"))

BAD_VALUES = ["0", "-1", "-7", "1e9", "99999999999", "2147483648", "nan", "inf", "-inf", "NaN", "1_000",
              "\u0661\u0662", "\uff13", "abc", "3.7", "1e-45", "1e39", "0x10", "+5", "5.", ".5", "1,2",
              "-0", "65536", "100000", "1e5", "3e2", "  ", "\u00b2", "1/2"]
ODD_LINES = ["[convolutional]", "[route]\nlayers=-100", "[route]\nlayers=5", "[shortcut]\nfrom=-1",
             "[reorg]\nstride=7", "[maxpool]\nsize=2\nstride=2", "[unknown]", "garbage", "key=", "=5",
             "[region]\nclasses=1", "[softmax]\ngroups=0", "[avgpool]", "[connected]\noutput=3",
             "[crop]\ncrop_width=5\ncrop_height=5", "[upsample]\nstride=2", "[yolo]\nmask=9"]


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One random mutation of cfg `text`; returns (new text, what was done)."""
    lines = text.splitlines()
    keyed = [i for i, l in enumerate(lines) if "=" in l and not l.lstrip().startswith(("#", ";"))]
    op = rng.choice(["value", "value", "value", "value", "drop", "dup", "move", "insert", "cut", "section"])
    if op == "value" and keyed:
        i = rng.choice(keyed)
        key = lines[i].split("=", 1)[0]
        new = rng.choice(BAD_VALUES + [str(rng.randint(-5, 5000)), str(rng.uniform(-2, 2))])
        lines[i] = f"{key}={new}"
        return "\n".join(lines) + "\n", f"{key}={new!r} (line {i + 1})"
    if op == "drop" and lines:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i] + lines[i + 1:]) + "\n", f"drop line {i + 1}"
    if op == "dup" and lines:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i + 1] + lines[i:]) + "\n", f"repeat line {i + 1}"
    if op == "move" and len(lines) > 2:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        line = lines.pop(i)
        lines.insert(j, line)
        return "\n".join(lines) + "\n", f"move line {i + 1} to {j + 1}"
    if op == "insert":
        j = rng.randrange(len(lines) + 1)
        odd = rng.choice(ODD_LINES)
        return "\n".join(lines[:j] + odd.split("\n") + lines[j:]) + "\n", f"insert {odd!r} at {j + 1}"
    if op == "cut" and text:
        k = rng.randrange(len(text))
        return text[:k], f"cut at byte {k}"
    heads = [i for i, l in enumerate(lines) if l.strip().startswith("[")]
    if heads:
        i = rng.choice(heads)
        name = rng.choice(["net", "convolutional", "route", "region", "maxpool", "reorg", "connected", "cost",
                           "softmax", "dropout", "yolo", "shortcut", "avgpool", "local", "crop"])
        lines[i] = f"[{name}]"
        return "\n".join(lines) + "\n", f"section at line {i + 1} -> [{name}]"
    return text, "unchanged"


def build_and_run(text: str, path: Path) -> None:
    """What `darkpy summary`/`detect` do with a cfg before touching weights: parse, build (memory
    check included), and one forward pass on the meta device (shapes only, no arithmetic)."""
    import torch

    from darkpy.net.cfg import parse_cfg_text
    from darkpy.net.model import build_network

    with torch.device("meta"):
        net = build_network(parse_cfg_text(text, path), path).eval()
        c, h, w = net.input_shape if net.net.channels else (net.net.inputs, 1, 1)
        with torch.no_grad():
            net(torch.empty(1, c, h, w))


@dataclass
class Tally:
    tried: int = 0
    ok: int = 0
    clean: int = 0
    tracebacks: list[str] = field(default_factory=list)
    lines: Counter = field(default_factory=Counter)

    def run(self, what: str, fn: Callable[[], object]) -> str:
        from darkpy.errors import DarkpyError

        self.tried += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
        except DarkpyError as exc:
            self.clean += 1
            text = str(exc)
            if "\n" in text or not text:
                self.tracebacks.append(f"{what}: multi-line or empty message {text!r}")
            self.lines[text.split(": ")[-1][:40]] += 1
            return "clean"
        except Exception:
            self.tracebacks.append(f"{what}:\n{traceback.format_exc(limit=4)}")
            return "traceback"
        self.ok += 1
        return "ok"


def fuzz_cfgs(n: int = 520, seed: int = 14) -> Tally:
    rng = random.Random(seed)
    texts = [(p, p.read_text()) for p in SOURCES]
    tally = Tally()
    for k in range(n):
        path, text = texts[k % len(texts)]
        mutant = text
        what = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            mutant, did = mutate(mutant, rng)
            what.append(did)
        tally.run(f"#{k} {path.name}: {'; '.join(what)}", lambda: build_and_run(mutant, path))
    return tally
