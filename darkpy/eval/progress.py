"""The progress bar of the evaluation commands: tqdm on a terminal, nothing otherwise.

tqdm draws only on a terminal anyway (`disable=None`); deciding that here first spares a run
whose stderr is a pipe or a file the import (8 ms, with multiprocessing), which is noticeable in a
`darkpy recall` of a few images that takes a third of a second in all.
"""
from __future__ import annotations

import sys
from typing import TextIO


class NoBar:
    """What the commands call on a bar, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, progress: bool | None = None, file: TextIO | None = None, **kwargs):
    """A tqdm bar over `total` items, or a `NoBar` when `progress` is False, or None and `file`
    (default stderr) is not a terminal."""
    file = file if file is not None else sys.stderr
    if progress is False or (progress is None and not _is_terminal(file)):
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=file, disable=False, **kwargs)


def _is_terminal(file) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ("NoBar", "progress_bar")
