"""WordNet 3.0 noun database, read straight from its own files (`data.noun`, `index.noun`).

No NLTK: the WordNet data format is simple and its synset offsets are byte offsets into
`data.noun`, so we read the file once and parse only the synsets a tree actually visits
(a few thousand of 82 115). That keeps a whole 9k build well under a second.

A synset is named like ImageNet and Darknet name it: `wnid = 'n' + 8-digit offset`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from darkpy.errors import DataError

INSTALL_HINT = ("install WordNet 3.0 (Debian/Ubuntu: `apt-get install wordnet-base`), "
                "or pass --wordnet DIR / set $WNHOME to a folder holding data.noun and index.noun")

# Pointer symbols that lead to a more general synset: hypernym and instance hypernym.
HYPERNYM_POINTERS = ("@", "@i")


@dataclass(frozen=True)
class Synset:
    wnid: str
    words: tuple[str, ...]          # lemmas as written in WordNet (underscores for spaces)
    hypernyms: tuple[str, ...]      # wnids of `@` and `@i` targets, in file order

    @property
    def name(self) -> str:
        """Readable name as Darknet's names files use it: first lemma, spaces for underscores."""
        return self.words[0].replace("_", " ")


def candidate_dirs(explicit: str | Path | None = None) -> list[Path]:
    """Where we look for the database, in order: --wordnet, $WNHOME (and its dict/), Debian's
    folder, NLTK's data folders (which keep the same files)."""
    dirs: list[Path] = []
    if explicit is not None:
        base = Path(explicit).expanduser()
        return [base, base / "dict"]
    wnhome = os.environ.get("WNHOME")
    if wnhome:
        dirs += [Path(wnhome), Path(wnhome) / "dict"]
    dirs.append(Path("/usr/share/wordnet"))
    nltk_roots = [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    nltk_roots += [Path.home() / "nltk_data", Path("/usr/share/nltk_data"),
                   Path("/usr/local/share/nltk_data")]
    dirs += [root / "corpora" / "wordnet" for root in nltk_roots]
    return dirs


def find_wordnet(explicit: str | Path | None = None) -> Path:
    """The first folder holding `data.noun`; a DataError saying where we looked otherwise."""
    dirs = candidate_dirs(explicit)
    for d in dirs:
        if (d / "data.noun").is_file():
            return d
    looked = ", ".join(str(d) for d in dirs)
    raise DataError(f"WordNet database (data.noun) not found; looked in {looked}; {INSTALL_HINT}")


def parse_wnid(text: str) -> str | None:
    """`n02084071` (or `02084071`) → canonical wnid; None if it is not a noun synset id."""
    s = text.strip()
    if s[:1] in ("n", "N"):
        s = s[1:]
    if len(s) == 8 and s.isdigit():
        return "n" + s
    return None


class WordNet:
    """Lazy view of the noun half of a WordNet database folder."""

    def __init__(self, directory: str | Path | None = None):
        self.dir = find_wordnet(directory)
        self.data_path = self.dir / "data.noun"
        try:
            self._data = self.data_path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read WordNet data: {exc.strerror}", file=self.data_path) from None
        self._cache: dict[str, Synset | None] = {}
        self._index: dict[str, list[str]] | None = None
        self._paths: dict[str, dict[str, list[tuple[str, ...]]]] = {}

    def synset(self, wnid: str) -> Synset | None:
        """The synset at `wnid`, or None when no synset starts at that offset."""
        if wnid in self._cache:
            return self._cache[wnid]
        result = self._parse_at(wnid)
        self._cache[wnid] = result
        return result

    def __contains__(self, wnid: str) -> bool:
        return self.synset(wnid) is not None

    def _parse_at(self, wnid: str) -> Synset | None:
        offset = int(wnid[1:])
        data = self._data
        # A real synset starts at a line start and repeats its own offset as its first field.
        if offset >= len(data) or (offset > 0 and data[offset - 1:offset] != b"\n"):
            return None
        end = data.find(b"\n", offset)
        line = data[offset:end if end >= 0 else len(data)].decode("utf-8", errors="replace")
        fields = line.split(" | ", 1)[0].split()
        if len(fields) < 4 or fields[0] != wnid[1:]:
            return None
        try:
            w_cnt = int(fields[3], 16)
            words = tuple(fields[4 + 2 * k] for k in range(w_cnt))
            at = 4 + 2 * w_cnt
            p_cnt = int(fields[at])
            hypernyms = []
            for k in range(p_cnt):
                symbol, target, pos = fields[at + 1 + 4 * k: at + 4 + 4 * k]
                if symbol in HYPERNYM_POINTERS and pos == "n":
                    hypernyms.append("n" + target)
        except (ValueError, IndexError):
            line_no = data.count(b"\n", 0, offset) + 1
            raise DataError(f"malformed synset line for {wnid}", file=self.data_path, line=line_no) from None
        return Synset(wnid, words, tuple(hypernyms))

    # -- lemma lookup (index.noun) --------------------------------------------------------------

    def lookup(self, lemma: str) -> list[str]:
        """wnids of the noun senses of `lemma`, most frequent sense first (index.noun order)."""
        if self._index is None:
            self._index = self._read_index()
        return list(self._index.get(lemma.strip().lower().replace(" ", "_"), []))

    def _read_index(self) -> dict[str, list[str]]:
        path = self.dir / "index.noun"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise DataError(f"cannot read WordNet index: {exc.strerror}; {INSTALL_HINT}", file=path) from None
        index: dict[str, list[str]] = {}
        for line in text.splitlines():
            if not line or line.startswith(" "):
                continue  # licence header
            fields = line.split()
            try:
                synset_cnt = int(fields[2])
                p_cnt = int(fields[3])
                offsets = fields[6 + p_cnt: 6 + p_cnt + synset_cnt]
            except (ValueError, IndexError):
                continue
            index[fields[0]] = ["n" + o for o in offsets]
        return index

    # -- paths --------------------------------------------------------------------------------

    def hypernym_paths(self, wnid: str, root: str, limit: int = 10000) -> list[tuple[str, ...]]:
        """All hypernym paths from `root` down to `wnid` (root first), in WordNet's pointer order.

        Paths that end at a top synset other than `root` are dropped. Results are memoised per
        root across calls (concepts share most of their ancestry). `limit` guards against
        combinatorial blow-up; WordNet's 9k concepts have at most a few paths each."""
        memo = self._paths.setdefault(root, {})
        active: set[str] = set()

        def up(node: str) -> list[tuple[str, ...]]:
            if node == root:
                return [(root,)]
            found = memo.get(node)
            if found is not None:
                return found
            syn = self.synset(node)
            out: list[tuple[str, ...]] = []
            active.add(node)
            if syn is not None:
                for h in syn.hypernyms:
                    if h in active:
                        continue  # WordNet has no cycles; a hand-made database might
                    out.extend(path + (node,) for path in up(h))
                    if len(out) >= limit:
                        del out[limit:]
                        break
            active.discard(node)
            memo[node] = out
            return out

        return list(up(wnid))

    def ancestors(self, wnid: str) -> dict[str, int]:
        """Every hypernym ancestor of `wnid` with its shortest distance (wnid itself at 0)."""
        dist = {wnid: 0}
        frontier = [wnid]
        while frontier:
            nxt = []
            for node in frontier:
                syn = self.synset(node)
                if syn is None:
                    continue
                for h in syn.hypernyms:
                    if h not in dist:
                        dist[h] = dist[node] + 1
                        nxt.append(h)
            frontier = nxt
        return dist
