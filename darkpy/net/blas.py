"""How many threads numpy's BLAS (OpenBLAS) uses: one for small networks, all for large ones.

Why: OpenBLAS starts its threads when numpy is imported and splits every matrix product above a
small size over all of them. For the products of a small network (the demo model: 0.03 BFLOPs an
image) the split costs more than it saves, and on a loaded 2-core machine the second thread
waits for a busy core: `darkpy recall` on the 12 demo images took 0.7-1.5 s with OpenBLAS's two
threads and 0.4 s with one. Only the numpy engine does large products with numpy's BLAS (torch
has its own, MKL), so:

- `start_single_threaded()`, called by the CLI before numpy is imported, sets
  OPENBLAS_NUM_THREADS=1 unless the user set a thread count (OPENBLAS_NUM_THREADS,
  GOTO_NUM_THREADS, OMP_NUM_THREADS): no second thread is even started;
- `blas_threads_for(net)` around a numpy-engine forward: one thread for a network below
  SMALL_BFLOPS an image; for a larger one (yolov2-tiny-voc, yolov2-voc) every core the process
  may use, when it was `start_single_threaded` that held OpenBLAS to one (a count the user
  chose is left alone).

numpy has no API for the count (threadpoolctl is the usual tool, not a dependency of darkpy): the
OpenBLAS library numpy loaded is found among the process's mapped files (Linux) and its
`openblas_set_num_threads` called through ctypes. Where that library is not found (another BLAS,
another OS) the count stays as OpenBLAS chose it.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

# per image; below this the numpy engine runs BLAS on one thread (the demo model: 0.03,
# yolov2-tiny-voc 7, yolov2-voc 29)
SMALL_BFLOPS = 1.0

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads")
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
_api: tuple | None = None
_looked = False
_all_threads: int | None = None  # set by start_single_threaded: the count large networks get


def start_single_threaded() -> bool:
    """Start OpenBLAS on one thread (before numpy is imported), unless the user chose a count or
    numpy is already loaded. Returns whether it did; then large networks raise the count
    (`blas_threads_for`) to every core the process may use."""
    global _all_threads
    if "numpy" in sys.modules or any(os.environ.get(v) for v in _THREAD_VARIABLES):
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        _all_threads = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        _all_threads = os.cpu_count() or 1
    return True


def _openblas() -> tuple | None:
    """(set, get) of the OpenBLAS numpy loaded, or None. Looked up once."""
    global _api, _looked
    if _looked:
        return _api
    _looked = True
    import ctypes  # here: the CLI imports this module at every start

    import numpy  # noqa: F401  (loads its BLAS)

    try:
        with open(f"/proc/{os.getpid()}/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split(None, 5)[5].strip() for line in fh if "openblas" in line.lower()
                     and len(line.split(None, 5)) == 6}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # already loaded: the same handle
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            _api = (setter, getter)
            break
    return _api


def blas_threads() -> int | None:
    """Threads OpenBLAS uses now (None: not found)."""
    api = _openblas()
    return None if api is None else int(api[1]())


@contextmanager
def limit_blas_threads(n: int) -> Iterator[None]:
    """At most `n` OpenBLAS threads inside the block (nothing changes where OpenBLAS is not found)."""
    api = _openblas()
    before = None if api is None else int(api[1]())
    if before is not None and before > n:
        api[0](n)
    try:
        yield
    finally:
        if before is not None and before > n:
            api[0](before)


@contextmanager
def raise_blas_threads(n: int) -> Iterator[None]:
    """At least `n` OpenBLAS threads inside the block (where OpenBLAS is found)."""
    api = _openblas()
    before = None if api is None else int(api[1]())
    if before is not None and before < n:
        api[0](n)
    try:
        yield
    finally:
        if before is not None and before < n:
            api[0](before)


@contextmanager
def blas_threads_for(net) -> Iterator[None]:
    """One BLAS thread while a small network (`net.bflops` per image below SMALL_BFLOPS) runs;
    for a larger one every core, where `start_single_threaded` held OpenBLAS to one."""
    if net.bflops < SMALL_BFLOPS:
        with limit_blas_threads(1):
            yield
    elif _all_threads is not None and _all_threads > 1:
        with raise_blas_threads(_all_threads):
            yield
    else:
        yield


__all__ = ("SMALL_BFLOPS", "blas_threads", "blas_threads_for", "limit_blas_threads", "raise_blas_threads",
           "start_single_threaded")
