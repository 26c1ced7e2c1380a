"""`darkpy serve` user errors: one line, exit 2, before (or instead of) listening."""
from __future__ import annotations

import socket

import pytest

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")


@pytest.mark.parametrize("args, message", [
    (["--thresh", "1.5"], "--thresh must lie in [0, 1]"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--queue", "0"], "--queue must be at least 1"),
    (["--port", "70000"], "--port must lie in 0..65535"),
    (["--source", "no-such-clip.mp4"], "video file not found"),
    (["--cfg", "cfg/demo.cfg"], "--weights"),
    (["--size", "100"], "multiple of 32"),
])
def test_serve_user_errors(cli, args, message):
    code, _, err = cli("serve", *args)
    assert code == 2 and message in err


def test_a_port_in_use(cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = cli("serve", "--port", str(taken.getsockname()[1]))
    assert code == 2 and "cannot listen on 127.0.0.1" in err
