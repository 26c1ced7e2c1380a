"""A real `darkpy serve` process on a free loopback port, shared by the tests of this folder, and
small HTTP helpers (the standard library's, so the tests do not lean on the server's library)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_IMAGES = REPO / "data" / "demo" / "images"


def make_video(path: Path, frames: int = 60, size: int = 96) -> Path:
    """A small MJPG .avi of a demo image sliding sideways."""
    import cv2

    img = cv2.resize(cv2.imread(str(DEMO_IMAGES / "001988.jpg")), (size, size))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (size, size))
    for i in range(frames):
        writer.write(np.roll(img, i % 24, axis=1))
    writer.release()
    return path


class Server:
    """`python -m darkpy serve ...` started on port 0; `url` once it listens; `stop()` sends SIGTERM."""

    def __init__(self, *args: str, timeout: float = 180):
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-m", "darkpy", "serve", "--port", "0", *args],
                                     cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.url = None
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(timeout) or self.url is None:
            self.proc.kill()
            raise RuntimeError("darkpy serve did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            found = re.search(r"on (http://\S+/) ", line)
            if found:
                self.url = found.group(1)
                self.ready.set()
        self.ready.set()

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def request(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None,
            timeout: float = 60) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def post_image(base: str, data: bytes, content_type: str = "image/jpeg", query: str = "") -> tuple[int, dict]:
    status, _, body = request(base + "detect" + query, data, {"Content-Type": content_type}, "POST")
    return status, json.loads(body)


def multipart(field: str, filename: str, data: bytes, content_type: str = "image/jpeg") -> tuple[bytes, str]:
    boundary = "darkpyTestBoundary7MA4YWxk"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("serve") / "clip.avi")


@pytest.fixture(scope="session")
def server(video):
    """The demo model at fp32, with a live --source, for the whole session; stopped by SIGTERM at
    the end, which must exit 0 (graceful shutdown)."""
    srv = Server("--precision", "fp32", "--source", str(video))
    yield srv
    code = srv.stop()
    assert code == 0, "".join(srv.lines)
    assert any("stopped" in line for line in srv.lines)


def wait_for(predicate, timeout: float = 30, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
