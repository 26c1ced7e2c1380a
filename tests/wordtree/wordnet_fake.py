"""A tiny WordNet database in the real file format, for tests that must not need WordNet installed.

Offsets in data.noun are byte positions, so lines are laid out first and numbered after."""
from __future__ import annotations

from pathlib import Path

HEADER = "  1 This is a made-up WordNet database for darkpy's tests.  \n  2 Same format as WordNet 3.0.  \n"


def write_wordnet(folder: Path, synsets: list[tuple[str, list[str], list[str]]]) -> dict[str, str]:
    """`synsets`: (key, words, hypernym keys; a key prefixed 'i:' is an instance hypernym).

    Writes data.noun and index.noun into `folder`; returns key -> wnid."""
    folder.mkdir(parents=True, exist_ok=True)

    def line(offsets: dict[str, int], key: str, words: list[str], hypers: list[str]) -> str:
        ptrs = []
        for h in hypers:
            sym, target = ("@i", h[2:]) if h.startswith("i:") else ("@", h)
            ptrs.append(f"{sym} {offsets.get(target, 0):08d} n 0000")
        ws = " ".join(f"{w} 0" for w in words)
        return (f"{offsets.get(key, 0):08d} 03 n {len(words):02x} {ws} {len(ptrs):03d} "
                f"{' '.join(ptrs)} | gloss of {words[0]}  \n")

    offsets: dict[str, int] = {}
    pos = len(HEADER.encode())
    for key, words, hypers in synsets:  # line lengths do not depend on offset values
        offsets[key] = pos
        pos += len(line({}, key, words, hypers).encode())
    text = HEADER + "".join(line(offsets, k, w, h) for k, w, h in synsets)
    (folder / "data.noun").write_text(text)
    index: dict[str, list[str]] = {}
    for key, words, _ in synsets:
        for w in words:
            index.setdefault(w.lower(), []).append(f"{offsets[key]:08d}")
    (folder / "index.noun").write_text(HEADER + "".join(
        f"{w} n {len(offs)} 1 @ {len(offs)} 0 {' '.join(offs)}  \n" for w, offs in sorted(index.items())))
    return {k: f"n{o:08d}" for k, o in offsets.items()}
