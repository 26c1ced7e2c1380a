"""User-facing failures.

Every mistake a user can make with their own files ends as one of these: the CLI prints it as a
single line (file, line, what is wrong) and exits with code 2. Anything else is a bug in darkpy and
keeps its traceback.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_python_show_warning = warnings.showwarning


class DarkpyError(Exception):
    """A problem with the user's input, reported without a traceback."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line

    def __reduce__(self):
        # keep file and line when the error crosses a process boundary (data-loading workers)
        return (_rebuild, (type(self), self.message, self.file, self.line))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        return where + self.message


class CfgError(DarkpyError):
    """A .cfg file that Darknet would reject or misread."""


class WeightsError(DarkpyError):
    """A .weights file that does not fit its cfg."""


class DataError(DarkpyError):
    """A .data file, image list, label file, annotation or image that cannot be used."""


class UsageError(DarkpyError):
    """Options that contradict each other or are out of range."""


class DistributedError(DarkpyError):
    """A training process lost its peers (killed, unreachable, timed out) or could not join them."""


def _rebuild(cls, message, file, line):
    return cls(message, file=file, line=line)


class WorkerFailure:
    """A `DarkpyError` raised in a data-loading worker, returned as a value: re-raised as itself in
    the main process, so the user sees the same one line as with `--workers 0` (a raised error
    would come back wrapped in the worker's traceback)."""

    def __init__(self, error: DarkpyError):
        self.error = error


def report_error(exc: BaseException) -> None:
    """Print a user mistake as one red line on stderr (how the CLI ends on a DarkpyError)."""
    from rich.console import Console
    from rich.markup import escape

    # escape: messages name cfg sections like [region], which are not markup
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]darkpy: error:[/] {escape(str(exc))}", markup=True
    )


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """darkpy's own warnings (they name the user's file and line) as one line, without the
    Python source location; others as Python prints them (the CLI's `warnings.showwarning`)."""
    if issubclass(category, UserWarning) and str(filename).startswith(_PACKAGE_DIR):
        print(f"darkpy: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)
