from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture
def golden() -> Path:
    return GOLDEN


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def cli():
    """Run the darkpy CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from darkpy.cli import app, load_commands

    load_commands()
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
        code = result.exit_code
        err = getattr(result, "stderr", "") if hasattr(result, "stderr_bytes") and result.stderr_bytes is not None else ""
        exc = result.exception
        if exc is not None and not isinstance(exc, SystemExit):
            from darkpy.errors import DarkpyError

            if isinstance(exc, DarkpyError):
                return 2, result.stdout, str(exc)
            raise exc
        return code, result.stdout, err

    return run
