"""Training on the CPU keeps freed memory for the next step instead of handing it back.

A training step allocates the same large tensors every time (a yolov2-tiny batch of 32 at 288:
activations of 85-170 MB each, and their gradients). glibc serves every allocation above its mmap
threshold (at most 32 MB) with a fresh `mmap` and returns it with `munmap` when freed, so each
step faults all those pages in again: on the 2-core Zen 4 the kernel took 11-14 s of a 6-batch run
(`sys` time), and `leaky_relu_backward` on one 85 MB tensor ran 4x slower than the same
arithmetic on memory already mapped. With mmap turned off and the heap never trimmed, freed
blocks are reused by the next step: measured on that run, 2.6-3.4 -> 1.9-2.1 s a batch in fp32
and 2.1-3.4 -> 1.2-1.5 s with `--amp`, kernel time 12 -> 4 s, for a peak 25-30% higher (the
heap keeps the largest step's memory: 1.73 -> 2.14-2.25 GB there, AlexeyAB's build 2.04 GB).

Only for CPU training, only on glibc, and never over a setting the user made: any of the
`MALLOC_*` variables glibc reads, or `DARKPY_KEEP_FREED_MEMORY=0`, leaves malloc as it is.
Inference does not use it: its passes allocate less, and the measured folder runs were not
faster with it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4
TRIM_ABOVE = 2**31 - 1  # mallopt takes an int: the heap top is handed back only beyond 2 GiB free

_USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "GLIBC_TUNABLES")
_done = False


def keep_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and its heap trimming in this process, once.
    Returns whether the setting is in force (False: not glibc, or the user chose otherwise)."""
    global _done
    if _done:
        return True
    if os.environ.get("DARKPY_KEEP_FREED_MEMORY", "1") == "0" or any(k in os.environ for k in _USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version   # glibc only: musl and macOS have other allocators
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_MAX, 0) != 1 or mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE) != 1:
        return False
    _done = True
    return True
