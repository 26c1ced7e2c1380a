"""Whether the optional server library is installed: `darkpy serve` and the stream ports say how to
get it in one line instead of an ImportError traceback."""
from __future__ import annotations

from darkpy.errors import UsageError


def require_aiohttp(what: str = "darkpy serve") -> None:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} needs aiohttp: pip install 'darkpy[serve]' (or: pip install aiohttp)") \
            from None
