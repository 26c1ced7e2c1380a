"""Many label files at once: the one pass `kmeans`, `data check`, `data stats` and the training
index read a whole data set with.

Opening 20k small files one `open()` at a time, then splitting and `float()`-ing every field in a
Python loop, costs seconds; Darknet's `calc_anchors` does it in a fraction of one. Here the files are
read with bare `os.open`/`os.read` in a few threads (the system calls release the GIL), joined
into one buffer and parsed with numpy: token boundaries, field counts and the number grammar are
checked with vectorised masks, and each number is its integer mantissa over a power of ten. That
division is exact-then-rounded once (mantissa < 2**53, power <= 10**22: Clinger's fast path), so
the value is bit for bit what `float()` gives, and the boxes equal `parse_label_text`'s.

The fast path takes only what the per-line reader (`darkpy.formats.labels`) accepts without
comment: lines of five plain decimal numbers (ASCII digits, one optional point, a leading minus
on coordinates), a digits-only class, LF or CRLF line ends, every line a valid box or
classification-only line. Any other file (another byte, an exponent, a bad line, a lone CR, a
file that is not a regular file) is read again by `read_label_file` itself, so its problems and
errors are exactly the per-line reader's, with file and line.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from darkpy.formats.labelcache import LabelCache, Stored, racy, stat_all
from darkpy.formats.labels import (IMAGE_EXTENSIONS, MARK_MIN, LabelProblem, Labels, label_file,
                                   read_label_file)

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_SLOW = object()           # a file the per-line reader must read (not regular, unreadable)
_MAX_DIGITS = 15           # mantissas below 10**15 < 2**53 are exact in float64

_POW10 = np.array([float(10 ** i) for i in range(_MAX_DIGITS + 1)])  # exact

_ALLOWED = np.zeros(256, bool)
_ALLOWED[[ord(c) for c in "0123456789.- \t\n"]] = True


@dataclass
class LabelSet:
    """The label files of a data set, parsed: rows of all files in one array, `offsets` per file.

    `boxes[box_offsets[i]:box_offsets[i+1]]` are file i's boxes (class x y w h, float32) and
    `box_lines` their line numbers; likewise `class_only` (class w h) per `class_only_offsets`.
    `found[i]` is False for a missing file; `problems[i]` lists file i's unusable lines (as the
    per-line reader reports them); `errors[i]` is the DataError of a file that exists but cannot
    be read."""

    paths: list[str]
    found: np.ndarray
    boxes: np.ndarray
    box_lines: np.ndarray
    box_offsets: np.ndarray
    class_only: np.ndarray
    class_only_offsets: np.ndarray
    problems: dict[int, list[LabelProblem]]
    errors: dict[int, Exception]

    def __len__(self) -> int:
        return len(self.paths)

    def labels(self, i: int) -> Labels | None:
        """File i as the per-line reader returns it (None when missing); a read error is raised."""
        if i in self.errors:
            raise self.errors[i]
        if not self.found[i]:
            return None
        b0, b1 = self.box_offsets[i], self.box_offsets[i + 1]
        c0, c1 = self.class_only_offsets[i], self.class_only_offsets[i + 1]
        return Labels(self.boxes[b0:b1], self.class_only[c0:c1], list(self.problems.get(i, ())),
                      self.box_lines[b0:b1])

    def box_counts(self) -> np.ndarray:
        return np.diff(self.box_offsets)

    def class_only_counts(self) -> np.ndarray:
        return np.diff(self.class_only_offsets)

    def first_problem(self) -> LabelProblem | None:
        """The first unusable line in file order (what a strict reader raises)."""
        return self.problems[min(self.problems)][0] if self.problems else None

    def raise_first(self) -> "LabelSet":
        """A strict reader's view: the first read error or unusable line, in file order, raised."""
        bad = sorted(set(self.problems) | set(self.errors))
        if bad:
            i = bad[0]
            if i in self.errors:
                raise self.errors[i]
            raise self.problems[i][0].error()
        return self


def default_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(8, cores))


def read_label_set(paths: Sequence[str | Path], classes: int | None = None, *,
                   class_only_classes: int | None = None, threads: int | None = None,
                   cache: LabelCache | None = None) -> LabelSet:
    """Read and parse every label file in `paths` (missing files are recorded, not raised).

    `classes` / `class_only_classes` bound class ids as in `parse_label_text`. With a `cache`,
    unchanged files (same size and mtime_ns) are taken from it; the result is the same."""
    paths = [os.fspath(p) for p in paths]
    if class_only_classes is None:
        class_only_classes = classes
    threads = threads or default_threads()
    if cache is None:
        return _set_uncached(paths, classes, class_only_classes, threads)[0]
    return _cached(cache, "set", paths, None, classes, class_only_classes, threads)


def _set_uncached(paths: list[str], classes, class_only_classes, threads: int, stats: bool = False):
    contents, size, mtime = _read_all(paths, threads, stats)
    labels = _parse_all(paths, contents, classes, class_only_classes)
    return labels, size, mtime, [isinstance(c, bytes) for c in contents]


# --------------------------------------------------------------------------------------------
# reading


def _read_some(paths: Sequence[str], stats: list | None = None) -> list:
    """The bytes of each file (None: missing; _SLOW: for the per-line reader). With `stats`,
    (size, mtime_ns) of each file read whole as it was opened is appended to it ((-1, -1) for
    the others)."""
    out: list = []
    for p in paths:
        st = None
        try:
            fd = os.open(p, _OPEN_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            out.append(None)
            if stats is not None:
                stats.append(_NO_STAT)
            continue
        except OSError:
            out.append(_SLOW)
            if stats is not None:
                stats.append(_NO_STAT)
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                out.append(_SLOW)
                st = None
                continue
            data = os.read(fd, st.st_size + 1)
            if len(data) != st.st_size:  # grew or shrank while being read: take all of it
                parts = [data]
                while True:
                    more = os.read(fd, 1 << 16)
                    if not more:
                        break
                    parts.append(more)
                data = b"".join(parts)
                st = None
            out.append(data)
        except OSError:
            out.append(_SLOW)
            st = None
        finally:
            os.close(fd)
            if stats is not None:
                stats.append(_NO_STAT if st is None else (st.st_size, st.st_mtime_ns))
    return out


_NO_STAT = (-1, -1)


def _read_stat(paths: Sequence[str]) -> tuple[list, list]:
    stats: list = []
    return _read_some(paths, stats), stats


def _read_only(paths: Sequence[str]) -> tuple[list, None]:
    return _read_some(paths), None


def _read_all(paths: list[str], threads: int, stats: bool = False
              ) -> tuple[list, np.ndarray | None, np.ndarray | None]:
    """(contents, size, mtime_ns): the sizes and times only when `stats` is asked for."""
    read = _read_stat if stats else _read_only
    if threads <= 1 or len(paths) < 256:
        parts = [read(paths)]
    else:
        n = min(threads, len(paths) // 128)
        step = -(-len(paths) // (n * 4))
        chunks = [paths[i:i + step] for i in range(0, len(paths), step)]
        from concurrent.futures import ThreadPoolExecutor  # not needed by a cached read

        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="darkpy-labels") as pool:
            parts = list(pool.map(read, chunks))
    out: list = []
    st: list = []
    for contents, part_stats in parts:
        out.extend(contents)
        if stats:
            st.extend(part_stats)
    if not stats:
        return out, None, None
    arr = np.array(st, np.int64).reshape(-1, 2)
    return out, arr[:, 0].copy(), arr[:, 1].copy()


# --------------------------------------------------------------------------------------------
# parsing


def _parse_all(paths: list[str], contents: list, classes: int | None,
               class_only_classes: int | None) -> LabelSet:
    n = len(paths)
    if class_only_classes is None:
        class_only_classes = classes
    found = np.array([c is not None for c in contents], bool)
    slow = np.array([c is _SLOW for c in contents], bool)
    data = [c if isinstance(c, bytes) else b"" for c in contents]
    fast = _fast_parse(data, classes, class_only_classes)
    slow |= fast.bad
    # the per-line reader on every file the fast path did not take
    per_file: dict[int, Labels] = {}
    problems: dict[int, list[LabelProblem]] = {}
    errors: dict[int, Exception] = {}
    for i in np.flatnonzero(slow & found).tolist():
        try:
            lab = read_label_file(paths[i], classes, class_only_classes=class_only_classes,
                                  missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - a DataError of that file, kept for strict readers
            errors[i] = exc
            continue
        if lab is None:  # gone since it was opened
            found[i] = False
            continue
        per_file[i] = lab
        if lab.problems:
            problems[i] = lab.problems
    for i in errors:
        found[i] = True
    box_counts = fast.box_counts.copy()
    only_counts = fast.only_counts.copy()
    box_counts[slow] = 0
    only_counts[slow] = 0
    for i, lab in per_file.items():
        box_counts[i] = len(lab.boxes)
        only_counts[i] = len(lab.class_only)
    box_offsets = np.concatenate([[0], np.cumsum(box_counts)]).astype(np.int64)
    only_offsets = np.concatenate([[0], np.cumsum(only_counts)]).astype(np.int64)
    boxes = np.empty((box_offsets[-1], 5), np.float32)
    lines = np.empty(box_offsets[-1], np.int64)
    only = np.empty((only_offsets[-1], 3), np.float32)
    # fast rows go where their file's block starts, in order
    keep = ~slow[fast.box_file]
    bf = fast.box_file[keep]
    pos = box_offsets[bf] + _rank_within(bf)
    boxes[pos] = fast.boxes[keep]
    lines[pos] = fast.box_lines[keep]
    keep = ~slow[fast.only_file]
    of = fast.only_file[keep]
    only[only_offsets[of] + _rank_within(of)] = fast.class_only[keep]
    for i, lab in per_file.items():
        boxes[box_offsets[i]:box_offsets[i + 1]] = lab.boxes
        lines[box_offsets[i]:box_offsets[i + 1]] = (lab.box_lines if lab.box_lines is not None
                                                     else np.zeros(len(lab.boxes), np.int64))
        only[only_offsets[i]:only_offsets[i + 1]] = lab.class_only
    return LabelSet(paths, found, boxes, lines, box_offsets, only, only_offsets, problems, errors)


def _rank_within(sorted_ids: np.ndarray) -> np.ndarray:
    """0, 1, 2... within each run of equal ids (ids are sorted)."""
    if not len(sorted_ids):
        return np.zeros(0, np.int64)
    idx = np.arange(len(sorted_ids))
    starts = np.concatenate([[True], sorted_ids[1:] != sorted_ids[:-1]])
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


@dataclass
class _Fast:
    bad: np.ndarray            # (files,) bool: leave this file to the per-line reader
    boxes: np.ndarray          # rows of the files not bad (and possibly some of bad ones)
    box_lines: np.ndarray
    box_file: np.ndarray
    class_only: np.ndarray
    only_file: np.ndarray
    box_counts: np.ndarray
    only_counts: np.ndarray


def _fast_parse(data: list[bytes], classes: int | None, class_only_classes: int | None) -> _Fast:
    nfiles = len(data)
    bad = np.zeros(nfiles, bool)
    lengths = np.fromiter((len(d) for d in data), np.int64, nfiles)
    file_start = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    buf = b"\n".join(data) + b"\n"
    a = np.frombuffer(buf, np.uint8)

    def file_of(pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(file_start, pos, side="right") - 1

    cr = np.flatnonzero(a == 13)
    if len(cr):
        a = a.copy()
        crlf = a[cr + 1] == 10
        a[cr[crlf]] = 32            # CR before LF: a space at the end of the line, for both readers
        bad[file_of(cr[~crlf])] = True
    bad[file_of(np.flatnonzero(~_ALLOWED[a]))] = True

    nl = a == 10
    ws = nl | (a == 32) | (a == 9)
    solid = ~ws
    edge = np.diff(solid.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    t_start = np.flatnonzero(edge == 1)
    t_end = np.flatnonzero(edge == -1)          # exclusive
    nl_pos = np.flatnonzero(nl)
    t_line = np.searchsorted(nl_pos, t_start)   # newlines before: global line index
    t_file = file_of(t_start)

    # five fields on every line that has any
    new_line = np.concatenate([[len(t_line) > 0], t_line[1:] != t_line[:-1]])
    run_start = np.flatnonzero(new_line)
    run_len = np.diff(np.append(run_start, len(t_start)))
    bad[t_file[run_start[run_len != 5]]] = True

    # the number grammar, per token: digits, at most one point, a minus only in front
    values, ok, plain_int = _decimal_values(a, buf, t_start, t_end)
    bad[t_file[~ok]] = True
    field = _rank_within(t_line)
    good_tok = ~bad[t_file]
    # from here on only the tokens of good files, five to a line; classes are plain integers
    bad[t_file[good_tok & (field == 0) & ~plain_int]] = True
    good_tok = ~bad[t_file]
    rows = values[good_tok].reshape(-1, 5)
    r_file = t_file[good_tok][::5]
    r_line = t_line[good_tok][::5]
    cls, x, y, w, h = rows.T
    with np.errstate(invalid="ignore"):
        only = ((x == 0) & (y == 0)) | ((x >= MARK_MIN) & (y >= MARK_MIN))
        box_limit = np.inf if classes is None else classes
        only_limit = np.inf if class_only_classes is None else class_only_classes
        limit = np.where(only, only_limit, box_limit)
        problem = ~np.isfinite(cls) | (cls >= limit)
        problem |= only & ~(np.isfinite(w) & np.isfinite(h))
        inside = (rows[:, 1:] >= 0.0) & (rows[:, 1:] <= 1.0)
        problem |= ~only & ~inside.all(axis=1)
    bad[r_file[problem]] = True

    # line numbers within each file: newlines before the row minus newlines before the file
    first_line = np.searchsorted(nl_pos, file_start)
    r_local = r_line - first_line[r_file] + 1
    box = ~only
    boxes = rows[box].astype(np.float32)
    class_only = rows[only][:, [0, 3, 4]].astype(np.float32)
    box_file = r_file[box]
    only_file = r_file[only]
    return _Fast(bad, boxes, r_local[box].astype(np.int64), box_file, class_only, only_file,
                 np.bincount(box_file, minlength=nfiles), np.bincount(only_file, minlength=nfiles))


def _decimal_values(a: np.ndarray, buf: bytes, t_start: np.ndarray, t_end: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float64 value, grammar ok, digits only) of each token. A token is `-?digits[.digits]`
    (at least one digit); its value is mantissa / 10**fraction digits, both exact in float64,
    so the one rounding of that division is `float()`'s; longer tokens go through `float()`.

    Tokens are short, so each is looked at through a window of its first bytes (a (tokens,
    width) array): no pass over the whole buffer beyond the one gather."""
    t = len(t_start)
    length = t_end - t_start
    width = int(min(length.max(), _MAX_DIGITS + 2)) if t else 1
    padded = np.concatenate([a, np.full(width, 32, np.uint8)])
    # row j: byte j of every token (spaces past its end), one contiguous row per column
    win = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(padded, width)[t_start].T)
    fits = length <= width
    n_dig = np.zeros(t, np.int64)
    n_dot = np.zeros(t, np.int64)
    n_minus = np.zeros(t, np.int64)
    frac = np.zeros(t, np.int64)
    mant = np.zeros(t, np.float64)        # integers below 10**15: exact
    seen_dot = np.zeros(t, bool)
    for j in range(width):
        row = win[j]
        inside = j < length
        digit = row - np.uint8(48)       # wraps for bytes below '0'
        is_dig = (digit <= 9) & inside
        is_dot = (row == 46) & inside
        n_dig += is_dig
        n_dot += is_dot
        n_minus += (row == 45) & inside
        frac += is_dig & seen_dot
        seen_dot |= is_dot
        np.copyto(mant, mant * 10.0 + digit, where=is_dig)
    lead = win[0] == 45
    ok = (n_dig >= 1) & (n_dot <= 1) & (n_minus == lead) & ((n_dig + n_dot + lead) == length)
    ok |= ~fits  # judged below, byte by byte
    values = mant / _POW10[np.minimum(frac, _MAX_DIGITS)]
    np.negative(values, out=values, where=lead)
    plain_int = (n_dot == 0) & ~lead & fits
    for i in np.flatnonzero(~fits | (n_dig > _MAX_DIGITS)).tolist():
        text = buf[t_start[i]:t_end[i]]
        body = text[1:] if text[:1] == b"-" else text
        digits = body.replace(b".", b"", 1)
        if not digits.isdigit() or not digits.isascii():
            ok[i] = False
            continue
        ok[i] = True
        values[i] = float(text)
        plain_int[i] = body.isdigit()
    return values, ok, plain_int


# --------------------------------------------------------------------------------------------
# from an image list


def label_paths(entries: Sequence[str], list_dir: str | Path | None = None, *,
                threads: int | None = None) -> list[str]:
    """`label_file` of every entry, as strings, with one probe per entry for the usual case:
    Darknet's rule on the entry as written; only entries whose file is not there go through
    `label_file`'s other candidates."""
    first = [_label_path_str(e) for e in entries]
    if list_dir is None:
        return first
    there = _exist_all(first, threads or default_threads())
    for i in np.flatnonzero(~there).tolist():
        first[i] = os.fspath(label_file(entries[i], list_dir))
    return first


def read_list_labels(entries: Sequence[str], list_dir: str | Path | None = None,
                     classes: int | None = None, *, class_only_classes: int | None = None,
                     threads: int | None = None, cache: LabelCache | None = None) -> LabelSet:
    """The label files of the entries of an image list (resolved as `label_file` does), parsed.
    With a `cache`, unchanged files (same size and mtime_ns) are taken from it; the result is the
    same."""
    threads = threads or default_threads()
    if class_only_classes is None:
        class_only_classes = classes
    entries = [os.fspath(e) for e in entries]
    if cache is None:
        return _list_uncached(entries, list_dir, classes, class_only_classes, threads)[0]
    return _cached(cache, "list", entries, list_dir, classes, class_only_classes, threads)


def _list_uncached(entries: list[str], list_dir, classes, class_only_classes, threads: int,
                   stats: bool = False):
    """(labels, size, mtime_ns, primary): `primary[i]` when entry i's file was read where
    Darknet's rule puts it (a cache may keep only those: the rule needs no look-up)."""
    first = [_label_path_str(e) for e in entries]
    contents, size, mtime = _read_all(first, threads, stats)
    primary = [isinstance(c, bytes) for c in contents]
    if list_dir is not None:
        for i, c in enumerate(contents):
            if c is None or (c is _SLOW and not os.path.isfile(first[i])):
                # not where Darknet's rule puts it: the other candidates
                other = os.fspath(label_file(entries[i], list_dir))
                if other != first[i]:
                    first[i] = other
                    contents[i] = _read_some([other])[0]
    return _parse_all(first, contents, classes, class_only_classes), size, mtime, primary


# --------------------------------------------------------------------------------------------
# through a cache


def _cached(cache: LabelCache, kind: str, names: list[str], list_dir, classes, class_only_classes,
            threads: int) -> LabelSet:
    """The uncached reader's result, with the rows of unchanged clean files from `cache`."""
    def fresh(sub: list[str]):
        if kind == "list":
            return _list_uncached(sub, list_dir, classes, class_only_classes, threads, stats=True)
        return _set_uncached(sub, classes, class_only_classes, threads, stats=True)

    where = cache.entry(kind, names, None if list_dir is None else os.fspath(list_dir),
                        classes, class_only_classes)
    stored = cache.load(where, len(names))
    if stored is None:
        labels, size, mtime, primary = fresh(names)
        cache.save(where, _to_stored(labels, size, mtime, _clean(labels, size, mtime, primary)))
        return labels
    size, mtime = stat_all(stored.paths)
    good = stored.clean & (size == stored.size) & (mtime == stored.mtime)
    if good.all():
        return _from_stored(stored)
    redo = np.flatnonzero(~good)
    sub, s_size, s_mtime, s_primary = fresh([names[i] for i in redo.tolist()])
    labels = _merge(stored, good, redo, sub)
    sub_clean = _clean(sub, s_size, s_mtime, s_primary)
    if sub_clean.any() or (stored.clean & ~good).any():
        size = np.where(good, stored.size, -1)
        mtime = np.where(good, stored.mtime, -1)
        size[redo], mtime[redo] = s_size, s_mtime
        clean = good.copy()
        clean[redo] = sub_clean
        cache.save(where, _to_stored(labels, size, mtime, clean))
    return labels


def _clean(labels: LabelSet, size, mtime, primary) -> np.ndarray:
    """Files whose rows a cache may keep: read whole where the rule puts them, parsed without a
    problem, and not modified too recently to trust their mtime."""
    clean = np.asarray(primary, bool) & labels.found & (size >= 0) & ~racy(mtime)
    for i in list(labels.problems) + list(labels.errors):
        clean[i] = False
    return clean


def _to_stored(labels: LabelSet, size, mtime, clean: np.ndarray) -> Stored:
    """What a cache file keeps of `labels`: the rows of the `clean` files, and every file's size
    and mtime (-1 for the others, which are read again each time)."""
    bc = np.where(clean, labels.box_counts(), 0)
    oc = np.where(clean, labels.class_only_counts(), 0)
    box_keep = np.repeat(clean, labels.box_counts())
    only_keep = np.repeat(clean, labels.class_only_counts())
    return Stored(list(labels.paths), np.where(clean, size, -1), np.where(clean, mtime, -1), clean,
                  labels.boxes[box_keep], labels.box_lines[box_keep], bc,
                  labels.class_only[only_keep], oc)


def _from_stored(s: Stored) -> LabelSet:
    n = len(s.paths)
    return LabelSet(list(s.paths), np.ones(n, bool), s.boxes, s.box_lines.astype(np.int64),
                    _offsets(s.box_counts), s.class_only, _offsets(s.only_counts), {}, {})


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _merge(s: Stored, good: np.ndarray, redo: np.ndarray, sub: LabelSet) -> LabelSet:
    """Files `good` from the cache, files `redo` (in order) from `sub`, in one LabelSet."""
    n = len(s.paths)
    paths = list(s.paths)
    for j, i in enumerate(redo.tolist()):
        paths[i] = sub.paths[j]
    found = good.copy()
    found[redo] = sub.found
    box_counts = np.where(good, s.box_counts, 0)
    box_counts[redo] = sub.box_counts()
    only_counts = np.where(good, s.only_counts, 0)
    only_counts[redo] = sub.class_only_counts()
    box_off, only_off = _offsets(box_counts), _offsets(only_counts)
    boxes = np.empty((box_off[-1], 5), np.float32)
    lines = np.empty(box_off[-1], np.int64)
    only = np.empty((only_off[-1], 3), np.float32)
    kept = np.flatnonzero(good)
    _place(box_off, kept, _offsets(s.box_counts), kept, ((boxes, s.boxes), (lines, s.box_lines)))
    _place(only_off, kept, _offsets(s.only_counts), kept, ((only, s.class_only),))
    mine = np.arange(len(redo))
    _place(box_off, redo, sub.box_offsets, mine, ((boxes, sub.boxes), (lines, sub.box_lines)))
    _place(only_off, redo, sub.class_only_offsets, mine, ((only, sub.class_only),))
    problems = {int(redo[j]): v for j, v in sub.problems.items()}
    errors = {int(redo[j]): v for j, v in sub.errors.items()}
    return LabelSet(paths, found, boxes, lines, box_off, only, only_off, problems, errors)


def _place(dst_off: np.ndarray, files: np.ndarray, src_off: np.ndarray, src_files: np.ndarray,
           pairs) -> None:
    """Copy the rows of source file src_files[j] (blocks at src_off) to the block of file
    files[j] (blocks at dst_off), for every (destination, source) array pair."""
    counts = src_off[src_files + 1] - src_off[src_files]
    total = int(counts.sum())
    if not total:
        return
    start = np.repeat(src_off[src_files] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    src_rows = np.arange(total) + start
    dst_start = np.repeat(dst_off[files] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    dst_rows = np.arange(total) + dst_start
    for dst, src in pairs:
        dst[dst_rows] = src[src_rows]


def _label_path_str(entry: str) -> str:
    """`label_path_for` on a string, without building Path objects (20k entries: 20x faster)."""
    text = entry
    for part in ("images", "JPEGImages", "raw"):
        text = text.replace(part, "labels", 1)
    root, dot, ext = text.rpartition(".")
    if dot and ("." + ext.lower()) in IMAGE_EXTENSIONS and "/" not in ext:
        text = root + ".txt"
    return path_str(text)  # as Path spells it, for messages naming the file


def path_str(text: str) -> str:
    """`str(Path(text))` without building a Path when `text` is already spelt that way."""
    if "//" in text or "/./" in text or text.startswith("./") or text.endswith(("/", "/.")):
        return os.fspath(Path(text))
    return text


def _exist_all(paths: list[str], threads: int) -> np.ndarray:
    def some(ps):
        return [os.path.isfile(p) for p in ps]
    if threads <= 1 or len(paths) < 256:
        return np.array(some(paths), bool)
    step = -(-len(paths) // (threads * 4))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        out = [x for part in pool.map(some, [paths[i:i + step] for i in range(0, len(paths), step)])
               for x in part]
    return np.array(out, bool)
