"""glibc's heap, tuned for the two ways darkpy uses memory.

**Training on the CPU keeps freed memory for the next step** (`keep_freed_memory`). A training
step allocates the same large tensors every time (a yolov2-tiny batch of 32 at 288: activations
of 85-170 MB each, and their gradients). glibc serves every allocation above its mmap threshold
(at most 32 MB) with a fresh `mmap` and returns it with `munmap` when freed, so each step faults
all those pages in again: on the 2-core Zen 4 the kernel took 11-14 s of a 6-batch run (`sys`
time), and `leaky_relu_backward` on one 85 MB tensor ran 4x slower than the same arithmetic on
memory already mapped. With mmap turned off and the heap never trimmed, freed blocks are reused
by the next step: measured on that run, 2.6-3.4 -> 1.9-2.1 s a batch in fp32 and 2.1-3.4 ->
1.2-1.5 s with `--amp`, kernel time 12 -> 4 s, for a peak 25-30% higher (the heap keeps the
largest step's memory: 1.73 -> 2.14-2.25 GB there, AlexeyAB's build 2.04 GB). Inference does not
use it: its passes allocate less, and the measured folder runs were not faster with it.

**Loading for inference hands its scratch back** (`release_freed_memory`). Folding batch norm in
float64, packing for oneDNN and the Winograd transform make large temporaries; once freed they sit
in the heap, below blocks still in use, where glibc does not return them, and the forward passes
run in other threads whose allocations come from other arenas and never reuse them. Trimming
once after the load: yolov2-voc fp32 709 -> 575 MB resident, bf16 370-401 -> 333 MB, in ~10 ms.

Only on glibc. Training's setting is never made over the user's own: any of the `MALLOC_*`
variables glibc reads, or `DARKPY_KEEP_FREED_MEMORY=0`, leaves malloc as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_ABOVE = 2**31 - 1  # mallopt takes an int: the heap top is handed back only beyond 2 GiB free

_USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "GLIBC_TUNABLES")
_done = False


@lru_cache(maxsize=1)
def _libc():
    """glibc, or None (musl and macOS have other allocators). Its usual name first:
    `find_library` runs `ldconfig -p` in a subprocess (~5 ms, at every load otherwise)."""
    for find in (lambda: "libc.so.6", lambda: ctypes.util.find_library("c")):
        name = find()
        if not name:
            continue
        try:
            libc = ctypes.CDLL(name)
            libc.gnu_get_libc_version
            libc.mallopt
            libc.malloc_trim
        except (OSError, AttributeError):
            continue
        return libc
    return None


def _user_chose() -> bool:
    return os.environ.get("DARKPY_KEEP_FREED_MEMORY", "1") == "0" or any(k in os.environ for k in _USER_SETTINGS)


def keep_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and its heap trimming in this process, once.
    Returns whether the setting is in force (False: not glibc, or the user chose otherwise)."""
    global _done
    if _done:
        return True
    libc = None if _user_chose() else _libc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_MAX, 0) != 1 or mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE) != 1:
        return False
    _done = True
    return True


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel now (`malloc_trim`); False where that is not
    done: not glibc, or training's `keep_freed_memory` in force (whose point is to keep them)."""
    if _done:
        return False
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    libc.malloc_trim(0)
    return True
