"""Ending the `darkpy` process without tearing torch down.

Once torch is imported, CPython's own shutdown costs about half a second on a 2-core machine:
cyclic collections over torch's hundreds of thousands of Python objects, then C++ static
destructors that unregister every operator kernel one by one. For `darkpy detect` on a folder
that is 8% of the whole run, and none of it is work a user asked for.

So the console entry point, having finished a command, does what shutdown would have done that
matters, and then leaves with `os._exit`:
- threads: `threading`'s own shutdown (joins non-daemon threads, e.g. a thread pool's workers);
- `atexit` handlers (logging's flush, multiprocessing's child reaping, coverage, tempfiles);
- stdout and stderr flushed.
Every file darkpy writes is closed by a `with` block before a command returns; a process
without torch, or with `DARKPY_FAST_EXIT=0`, ends the ordinary way.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_status(code: object) -> int:
    """The status `sys.exit(code)` gives: None is 0, an int itself, anything else is printed to
    stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):   # bool too: True is 1
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 1


def fast_exit_applies() -> bool:
    """Worth it only once torch is loaded (without it shutdown takes milliseconds); off with
    DARKPY_FAST_EXIT=0, or where this Python lacks the pieces it needs."""
    if os.environ.get("DARKPY_FAST_EXIT", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return "torch" in sys.modules and callable(getattr(threading, "_shutdown", None)) \
        and callable(getattr(atexit, "_run_exitfuncs", None))


def leave(code: object = None) -> None:
    """End the process with `code` as `sys.exit` would, skipping interpreter teardown when
    `fast_exit_applies()`. Only for the process's entry point: a library caller keeps its
    interpreter."""
    if not fast_exit_applies():
        sys.exit(code)
    status = exit_status(code)
    threading._shutdown()       # what Py_Finalize does first: join non-daemon threads
    atexit._run_exitfuncs()     # then the atexit handlers, in their order
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):   # a closed pipe: nothing more can reach it
            if status == 0 and stream is sys.stdout:
                status = 120    # what CPython returns when flushing stdout fails at exit
    os._exit(status)
