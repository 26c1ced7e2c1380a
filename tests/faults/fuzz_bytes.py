"""The second fuzzer family: seeded mutations of the BYTES and ENCODINGS of the text files darkpy
reads (cfg, label, image list, names, .data), where `tests/faults/fuzz.py` mutates their values.

Control characters, Unicode digits and spaces, a byte-order mark, CRLF or CR line ends, invalid
UTF-8, UTF-16, truncation inside a character. Each mutant is written to disk and read by the
library function the commands use, in-process, then classified as the CLI would end it ("ok",
"clean" one-line DarkpyError, or "traceback"). On top of that, three properties:

- meaning: a mutation that Darknet reads as the same file (CRLF, trailing spaces, a missing final
  newline) gives exactly the original's result; and a value with a non-ASCII character in it is
  never read as a number (Darknet's `atoi`/`atof` would stop at it and read something else);
- containment: names and list entries that become output paths stay inside the output folder,
  checked by writing the files and listing what appeared outside it;
- no hang: every case runs under a SIGALRM deadline.
"""
from __future__ import annotations

import random
import signal
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.faults.fuzz import Tally

REPO = Path(__file__).resolve().parents[2]
CFG_SOURCES = [REPO / "cfg" / "demo.cfg", REPO / "tests" / "golden" / "cfg" / "g_tiny_mini.cfg",
               REPO / "tests" / "golden" / "cfg" / "g_classifier_mini.cfg"]

CONTROL = [chr(c) for c in list(range(0, 32)) + [127]]
UNICODE_DIGITS = ["\u0660", "\u0663", "\u06f5", "\u0966", "\uff13", "\u00b2", "\u2081", "\U0001d7d9"]
UNICODE_SPACES = ["\u00a0", "\u2028", "\u2029", "\x85", "\u2007", "\u3000", "\u200b", "\u1680", "\ufeff"]
INVALID_UTF8 = [b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\xc0\xaf"]

#: mutations Darknet reads as the same file: the result must equal the original's
NEUTRAL = ("crlf", "trailing-space", "no-final-newline")
OPS = NEUTRAL + ("control", "unicode-digit", "digit-swap", "unicode-space", "bom", "cr-only", "truncate",
                 "invalid-utf8", "utf16", "nul-line")


def mutate_bytes(data: bytes, rng: random.Random, op: str | None = None) -> tuple[bytes, str]:
    """One mutation of `data` (UTF-8 text); returns (new bytes, what was done)."""
    op = op or rng.choice(OPS)
    text = data.decode("utf-8", errors="surrogateescape")
    at = rng.randrange(len(text) + 1) if text else 0

    def enc(t: str) -> bytes:
        return t.encode("utf-8", errors="surrogateescape")

    if op == "crlf":
        return data.replace(b"\n", b"\r\n"), op
    if op == "trailing-space":
        return b"\n".join(line + rng.choice([b" ", b"\t", b" \t "]) if line.strip() else line
                          for line in data.split(b"\n")), op
    if op == "no-final-newline":
        return data.rstrip(b"\n"), op
    if op == "control":
        ch = rng.choice(CONTROL)
        return enc(text[:at] + ch + text[at:]), f"insert {ch!r} at {at}"
    if op == "unicode-digit":
        ch = rng.choice(UNICODE_DIGITS)
        return enc(text[:at] + ch + text[at:]), f"insert {ch!r} at {at}"
    if op == "digit-swap":
        digits = [i for i, c in enumerate(text) if c.isascii() and c.isdigit()]
        if digits:
            i = rng.choice(digits)
            ch = chr(0x0660 + int(text[i])) if rng.random() < 0.5 else chr(0xFF10 + int(text[i]))
            return enc(text[:i] + ch + text[i + 1:]), f"digit {text[i]} at {i} -> {ch!r}"
        return data, "no digit"
    if op == "unicode-space":
        ch = rng.choice(UNICODE_SPACES)
        spaces = [i for i, c in enumerate(text) if c in " \t="]
        if spaces and rng.random() < 0.6:
            at = rng.choice(spaces) + 1
        return enc(text[:at] + ch + text[at:]), f"insert {ch!r} at {at}"
    if op == "bom":
        return b"\xef\xbb\xbf" + data, op
    if op == "cr-only":
        return data.replace(b"\n", b"\r"), op
    if op == "truncate":
        k = rng.randrange(len(data) + 1) if data else 0
        return data[:k], f"cut at byte {k}"
    if op == "invalid-utf8":
        k = rng.randrange(len(data) + 1) if data else 0
        junk = rng.choice(INVALID_UTF8)
        return data[:k] + junk + data[k:], f"insert {junk!r} at byte {k}"
    if op == "utf16":
        return text.encode("utf-16", errors="surrogatepass"), op
    if op == "nul-line":
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines.insert(i, b"\x00" * rng.randint(1, 4))
        return b"\n".join(lines), f"NUL line at {i + 1}"
    raise ValueError(op)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


@dataclass
class Case:
    kind: str
    what: str
    neutral: bool


class ByteFuzzer:
    """Runs the five families into `root` (a scratch folder); `tally` counts outcomes, `problems`
    collects meaning, containment and hang failures (the test asserts both are empty of bugs)."""

    def __init__(self, root: Path, seed: int = 21, deadline_s: int = 10):
        self.root = Path(root)
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.problems: list[str] = []
        self.deadline_s = deadline_s
        self.counter = 0
        self._setup()

    # -- plumbing -----------------------------------------------------------------------------
    def _setup(self) -> None:
        import cv2
        import numpy as np

        self.images = self.root / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self.image_paths = []
        for name in ("a", "b", "c"):
            p = self.images / f"{name}.png"
            cv2.imwrite(str(p), np.full((8, 8, 3), 60, np.uint8))
            self.image_paths.append(p)
        self.out = self.root / "out"
        self.out.mkdir(exist_ok=True)
        self.scratch = self.root / "scratch"
        self.scratch.mkdir(exist_ok=True)

    def _file(self, data: bytes, suffix: str) -> Path:
        self.counter += 1
        path = self.scratch / f"m{self.counter}{suffix}"
        path.write_bytes(data)
        return path

    def _run(self, case: Case, fn: Callable[[], object]) -> tuple[str, object]:
        result: dict[str, object] = {}

        def call():
            result["value"] = fn()

        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(self.deadline_s)
        try:
            outcome = self.tally.run(f"{case.kind}: {case.what}", call)
        except Hang:  # pragma: no cover - a bug: reported, not raised
            outcome = "hang"
            self.problems.append(f"{case.kind}: {case.what}: no answer in {self.deadline_s} s")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        if outcome == "traceback" and "Hang" in (self.tally.tracebacks[-1] if self.tally.tracebacks else ""):
            self.problems.append(f"{case.kind}: {case.what}: no answer in {self.deadline_s} s")
        return outcome, result.get("value")

    def _mutant(self, data: bytes) -> tuple[bytes, str, bool]:
        op = self.rng.choice(OPS)
        new, what = mutate_bytes(data, self.rng, op)
        neutral = op in NEUTRAL
        if not neutral and self.rng.random() < 0.3:  # a second mutation now and then
            new, more = mutate_bytes(new, self.rng)
            what += "; " + more
        return new, what, neutral

    def _same(self, case: Case, outcome: str, value, original) -> None:
        if case.neutral and (outcome != "ok" or value != original):
            self.problems.append(f"{case.kind}: {case.what}: read differently from the original "
                                 f"({outcome}: {str(value)[:120]!r} vs {str(original)[:120]!r})")

    # -- cfg ----------------------------------------------------------------------------------
    def cfg(self, n: int) -> None:
        import torch

        from darkpy.net.cfg import read_cfg_document
        from darkpy.net.model import build_network

        def meaning(path: Path):
            sections = read_cfg_document(path).sections
            with torch.device("meta"):
                net = build_network(sections, path)
                c, h, w = net.input_shape if net.net.channels else (net.net.inputs, 1, 1)
                with torch.no_grad():
                    net(torch.empty(1, c, h, w))
            raw = path.read_bytes().decode("utf-8", errors="replace").split("\n")  # fgetl's lines
            for s in sections:
                for key in s.used:
                    opt = s.options.get(key)
                    if opt is None:
                        continue
                    if opt.line > len(raw):
                        raise AssertionError(f"{key} reported at line {opt.line} of a {len(raw)}-line file")
                    line = raw[opt.line - 1].rstrip("\r").replace(" ", "").replace("\t", "")
                    if not line.startswith(key + "="):  # the line number names the line Darknet reads
                        raise AssertionError(f"{key} reported at line {opt.line}, which is {line!r}")
                    value = line[len(key) + 1:]
                    if not value.isascii() and any(ch.isdigit() for ch in value):  # atoi stops at it
                        raise AssertionError(f"line {opt.line}: {key}={value!r} was accepted")
            return [(s.name, {k: o.value for k, o in s.options.items()}) for s in sections]

        originals = {p: meaning(p) for p in CFG_SOURCES}
        for k in range(n):
            src = CFG_SOURCES[k % len(CFG_SOURCES)]
            data, what, neutral = self._mutant(src.read_bytes())
            case = Case("cfg", f"#{k} {src.name}: {what}", neutral)
            path = self._file(data, ".cfg")
            outcome, value = self._run(case, lambda: meaning(path))
            self._same(case, outcome, value, originals[src])

    # -- labels -------------------------------------------------------------------------------
    LABEL = b"0 0.5 0.5 0.2 0.3\n2 0.125 0.875 0.05 0.0625\n1 0.3 0.7 1 0.9\n"

    def labels(self, n: int) -> None:
        from darkpy.formats.labels import read_label_file

        def meaning(path: Path):
            labels = read_label_file(path, classes=3)
            lines = path.read_bytes().split(b"\n")
            for row, line in zip(labels.boxes.tolist(), labels.box_lines.tolist()):
                raw = lines[line - 1] if line - 1 < len(lines) else b""
                if not raw.isascii():   # fscanf would stop at the odd byte: never a box
                    raise AssertionError(f"line {line}: {raw!r} was read as {row}")
            return labels.boxes.round(6).tolist(), sorted(p.kind for p in labels.problems)

        original = meaning(self._file(self.LABEL, ".txt"))
        for k in range(n):
            data, what, neutral = self._mutant(self.LABEL)
            case = Case("label", f"#{k}: {what}", neutral)
            path = self._file(data, ".txt")
            outcome, value = self._run(case, lambda: meaning(path))
            self._same(case, outcome, value, original)

    # -- image lists: entries become output image names (detect) ------------------------------
    def lists(self, n: int) -> None:
        from darkpy.cli.commands.detect import _out_path
        from darkpy.formats.datafile import read_list

        text = "".join(f"{p}\n" for p in self.image_paths).encode()

        def meaning(path: Path):
            entries = read_list(path)
            targets = [_out_path(self.out, e, True) for e in entries]
            for t in targets:
                if self.out.resolve() not in t.resolve().parents:
                    raise AssertionError(f"{t} is outside {self.out}")
            return entries

        original = meaning(self._file(text, ".txt"))
        for k in range(n):
            data, what, neutral = self._mutant(text)
            case = Case("list", f"#{k}: {what}", neutral)
            path = self._file(data, ".txt")
            outcome, value = self._run(case, lambda: meaning(path))
            self._same(case, outcome, value, original)

    # -- names: class names become result files (valid, map) -----------------------------------
    NAMES = b"circle\nsquare\ntriangle\n"

    def names(self, n: int) -> None:
        from darkpy.eval.detections import Detections
        from darkpy.eval.resultfiles import write_voc_results
        from darkpy.formats.datafile import read_names

        import numpy as np

        empty = Detections(np.array([], dtype=object), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)))
        folder = self.out / "results"

        def meaning(path: Path):
            names = read_names(path)
            written = write_voc_results(empty, names, folder)
            for w in written:
                if folder.resolve() not in w.resolve().parents:
                    raise AssertionError(f"{w} is outside {folder}")
            return names

        original = meaning(self._file(self.NAMES, ".names"))
        for k in range(n):
            data, what, neutral = self._mutant(self.NAMES)
            case = Case("names", f"#{k}: {what}", neutral)
            path = self._file(data, ".names")
            outcome, value = self._run(case, lambda: meaning(path))
            self._same(case, outcome, value, original)

    # -- .data --------------------------------------------------------------------------------
    def datafiles(self, n: int) -> None:
        from darkpy.formats.datafile import data_config, read_data_file

        text = (f"classes = 3\ntrain = {self.image_paths[0]}\nvalid = {self.image_paths[1]}\n"
                f"names = {self.image_paths[2]}\nbackup = {self.out}\ntop = 2\n").encode()

        def meaning(path: Path):
            data = read_data_file(path)
            cfg = data_config(data)
            for key in ("classes", "top"):
                value = data.options.get(key)
                if value is not None and not value.isascii():
                    raise AssertionError(f"{key}={value!r} was read as {getattr(cfg, key)}")
            return cfg.classes, cfg.top, str(cfg.train), str(cfg.valid), str(cfg.names), str(cfg.backup)

        original = meaning(self._file(text, ".data"))
        for k in range(n):
            data, what, neutral = self._mutant(text)
            case = Case("data", f"#{k}: {what}", neutral)
            path = self._file(data, ".data")
            outcome, value = self._run(case, lambda: meaning(path))
            self._same(case, outcome, value, original)

    def run_all(self, cfg: int, labels: int, lists: int, names: int, data: int) -> "ByteFuzzer":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.cfg(cfg)
            self.labels(labels)
            self.lists(lists)
            self.names(names)
            self.datafiles(data)
        return self

    def outside(self) -> list[str]:
        """Files that appeared in the scratch root outside the folders the fuzzer owns."""
        owned = {self.images, self.out, self.scratch}
        return [str(p) for p in self.root.iterdir() if p not in owned]
