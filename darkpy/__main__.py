"""`python -m darkpy`: the CLI, with a short way in for `kmeans`.

Building the typer application (typer, click, pydantic, every command module) costs more than a
whole k-means over a cached label set. So `kmeans` with nothing but plainly written options
(`--name value`, `--name=value`, `-k value`, the two flags; numbers as digits; no value starting
with `-`) is parsed here and run by `darkpy.anchors.command.run_kmeans`, the function the typer
command calls with the same values. Anything else (`--help`, an unknown or misspelt option, a
missing or odd value, root options such as `--strict`) goes to typer, so help and usage errors are
typer's own; a test keeps the option table here equal to the typer command's.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

# option -> (keyword of run_kmeans, kind): int and float values are plain digits, paths and
# strings anything non-empty that does not start with "-"
KMEANS_OPTIONS: dict[str, tuple[str, str]] = {
    "--k": ("k", "int"), "-k": ("k", "int"),
    "--data": ("data", "path"), "--labels": ("labels", "path"), "--list": ("image_list", "path"),
    "--cfg": ("cfg", "path"), "--size": ("size", "int"), "--width": ("width", "int"),
    "--height": ("height", "int"), "--stride": ("stride", "float"), "--units": ("units", "str"),
    "--restarts": ("restarts", "int"), "--seed": ("seed", "int"), "--max-iter": ("max_iter", "int"),
    "--sweep": ("sweep", "str"), "--plot": ("plot", "path"), "--compare": ("compare", "str"),
    "--write-cfg": ("write_cfg", "path"),
}
KMEANS_FLAGS: dict[str, str] = {"--median": "median", "--no-cache": "no_cache"}

_INT = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def kmeans_arguments(args: list[str]) -> dict | None:
    """`run_kmeans` keywords for these arguments (after `kmeans`), or None when typer must parse
    them. A repeated option keeps its last value, as click does."""
    out: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in KMEANS_FLAGS:
            out[KMEANS_FLAGS[arg]] = True
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if eq and name.startswith("--") and name in KMEANS_OPTIONS:
            i += 1
        elif not eq and arg in KMEANS_OPTIONS and i + 1 < len(args):
            name, value = arg, args[i + 1]
            i += 2
        else:
            return None
        key, kind = KMEANS_OPTIONS[name]
        if not value or value.startswith("-"):
            return None
        if kind == "int":
            if not _INT.fullmatch(value):
                return None
            out[key] = int(value)
        elif kind == "float":
            if not _FLOAT.fullmatch(value):
                return None
            out[key] = float(value)
        elif kind == "path":
            out[key] = Path(value)
        else:
            out[key] = value
    return out


def run_short(argv: list[str]) -> bool:
    """Run `argv` here when it is a plainly written `kmeans`; False when typer must."""
    if not argv or argv[0] != "kmeans":
        return False
    kwargs = kmeans_arguments(argv[1:])
    if kwargs is None:
        return False
    import errno
    import os
    import warnings

    # k-means makes no BLAS calls worth a thread pool; OpenBLAS's threads would only start and
    # spin beside it on a small machine (results do not depend on it: no BLAS in darkpy.anchors)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from darkpy.anchors.command import run_kmeans
    from darkpy.errors import DarkpyError, report_error, show_warning

    warnings.showwarning = show_warning
    try:
        run_kmeans(**kwargs)
    except DarkpyError as exc:
        report_error(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)  # as typer ends an interrupted command
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # stdout closed by a pager: quietly, as typer does (nothing left to flush at exit)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    return True


def main(argv: list[str] | None = None) -> None:
    if run_short(sys.argv[1:] if argv is None else list(argv)):
        return
    from darkpy.cli import main as cli_main

    cli_main(argv)


def run() -> None:
    """The `darkpy` command: `main` with the cyclic collector tuned for torch, then out of the
    process without torch's half-second teardown (darkpy.cli.process_exit). Python callers use
    `main`, which returns or raises SystemExit and leaves the collector alone."""
    import gc

    # torch leaves ~400k long-lived objects: at Python's default thresholds each full collection
    # walks them all, 0.2-0.25 s of a folder run on 2 cores; a collection every 20000 tracked
    # allocations instead of 700 halves that (short-lived garbage is freed by refcounts anyway)
    gc.set_threshold(20_000, 10, 10)
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = None
    if "torch" in sys.modules:   # only then is the ordinary exit slow; importing darkpy.cli costs typer
        from darkpy.cli.process_exit import leave

        leave(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
