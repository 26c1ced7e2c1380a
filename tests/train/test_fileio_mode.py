"""Files darkpy writes get the user's umask, like any other program's (mkstemp alone would give 0600)."""
from __future__ import annotations

import os
import stat

import pytest

from darkpy.fileio import atomic_write, staged_directory, write_text_atomic


@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                     (0o002, 0o664, 0o775)])
def test_written_files_follow_the_umask(tmp_path, mask, file_mode, dir_mode):
    old = os.umask(mask)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x\n")
        with atomic_write(tmp_path / "b.weights") as fh:
            fh.write(b"\0" * 4)
        with staged_directory(tmp_path / "out") as stage:
            (stage / "c.txt").write_text("y\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "b.weights").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == dir_mode
