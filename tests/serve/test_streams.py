"""Live streams: serve's /stream.mjpg and /stream.json, `detect --source --mjpeg-port/--json-port`
(and `detector demo -mjpeg_port/-json_port`), clients that stall or leave."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

import cv2
import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")

import darkpy  # noqa: E402
from darkpy.cli.darknet import DETECTOR, translate  # noqa: E402
from darkpy.detect.video import run_video  # noqa: E402
from darkpy.serve.streams import StreamServer  # noqa: E402
from tests.serve.conftest import REPO, make_video, wait_for  # noqa: E402


def _open(url: str, timeout: float = 30) -> socket.socket:
    where = urlparse(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=timeout)
    sock.sendall(f"GET {where.path or '/'} HTTP/1.1\r\nHost: {where.hostname}\r\n\r\n".encode())
    return sock


class Reader:
    """An HTTP response read off a socket: `head()` then the body, de-chunked when chunked."""

    def __init__(self, sock: socket.socket):
        self.sock, self.raw, self.buf, self.chunked = sock, b"", b"", False

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("stream ended")
        self.raw += chunk

    def head(self) -> str:
        while b"\r\n\r\n" not in self.raw:
            self._recv()
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        text = head.decode()
        self.chunked = "transfer-encoding: chunked" in text.lower()
        return text

    def _fill(self) -> None:
        if not self.chunked:
            self._recv()
            self.buf, self.raw = self.buf + self.raw, b""
            return
        while b"\r\n" not in self.raw:
            self._recv()
        size_line, _, self.raw = self.raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            raise EOFError("stream ended")
        while len(self.raw) < size + 2:
            self._recv()
        self.buf += self.raw[:size]
        self.raw = self.raw[size + 2:]

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_mjpeg(url: str, frames: int) -> list[np.ndarray]:
    """Decoded frames of an MJPEG stream; the connection is dropped afterwards (mid-stream)."""
    with _open(url) as sock:
        r = Reader(sock)
        head = r.head()
        assert head.startswith("HTTP/1.1 200") and "multipart/x-mixed-replace" in head
        boundary = re.search(r"boundary=([^\s;]+)", head).group(1)
        out = []
        while len(out) < frames:
            part = r.until(b"\r\n\r\n").decode()
            assert f"--{boundary}" in part and "image/jpeg" in part
            n = int(re.search(r"Content-Length: (\d+)", part).group(1))
            img = cv2.imdecode(np.frombuffer(r.exactly(n), np.uint8), cv2.IMREAD_COLOR)
            assert img is not None
            out.append(img)
    return out


def read_json_lines(url: str, lines: int) -> list[dict]:
    with _open(url) as sock:
        r = Reader(sock)
        assert r.head().startswith("HTTP/1.1 200")
        return [json.loads(r.until(b"\n")) for _ in range(lines)]


def _check_frame_record(rec: dict) -> None:
    assert isinstance(rec["frame_id"], int) and "objects" in rec
    for obj in rec["objects"]:
        assert set(obj) == {"class_id", "name", "relative_coordinates", "confidence"}
        assert set(obj["relative_coordinates"]) == {"center_x", "center_y", "width", "height"}


def test_serve_live_mjpeg_and_json(server):
    frames = read_mjpeg(server.url + "stream.mjpg", 3)
    assert all(f.shape == (96, 96, 3) for f in frames)
    records = read_json_lines(server.url + "stream.json", 3)
    for rec in records:
        _check_frame_record(rec)
    assert any(rec["objects"] for rec in records)
    # several clients at once, one of which leaves after a frame: the others go on
    results = {}

    def watch(k: int, n: int) -> None:
        results[k] = len(read_mjpeg(server.url + "stream.mjpg", n))

    threads = [threading.Thread(target=watch, args=(k, 1 if k == 0 else 4)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {0: 1, 1: 4, 2: 4}


def test_stalled_and_vanished_clients_never_stall_detection(tmp_path):
    cfg, weights = REPO / "cfg" / "demo.cfg", REPO / "data" / "demo" / "demo.weights"
    net = darkpy.load_network(cfg, weights, device="cpu")
    clip = make_video(tmp_path / "clip.avi", frames=40)
    with StreamServer("127.0.0.1", 0, 0) as streams:
        stalled = _open(streams.url("mjpeg"))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # never reads a byte
        gone = _open(streams.url("json"))
        watcher: list = []
        reader = threading.Thread(target=lambda: watcher.extend(read_mjpeg(streams.url("mjpeg"), 2)))
        reader.start()
        assert wait_for(lambda: streams.mjpeg.clients == 2 and streams.json.clients == 1)
        gone.close()
        seen = []
        stats = run_video(net, clip, frames=None, show=False,
                               on_frame=lambda i, r: seen.append(i),
                               on_drawn=streams.publish_frame)
        reader.join(30)
        stalled.close()
    assert stats.frames == 40 and seen == list(range(40)) and stats.out is None
    assert len(watcher) == 2


def _run_detect_streaming(args: list[str], cwd) -> tuple[list, list, int]:
    """Runs `python -m darkpy ARGS` in `cwd`, reads 3 MJPEG frames and 2 JSON lines from the ports it
    prints, then interrupts it (Ctrl-C), so the test lasts what reading takes, not the whole video."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "darkpy", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    urls: dict = {}
    lines: list[str] = []

    def read_err():
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r"(MJPEG|JSON) stream on (http://\S+)", line)
            if found:
                urls[found.group(1)] = found.group(2)

    t = threading.Thread(target=read_err, daemon=True)
    t.start()
    try:
        assert wait_for(lambda: len(urls) == 2 or proc.poll() is not None, timeout=120), "".join(lines)
        assert len(urls) == 2, "".join(lines)
        got: dict = {}
        tj = threading.Thread(target=lambda: got.setdefault("json", read_json_lines(urls["JSON"], 2)))
        tj.start()
        frames = read_mjpeg(urls["MJPEG"], 3)
        tj.join(60)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(5)
    assert code in (0, 130), "".join(lines)  # 0: the clip ended before the interrupt
    return frames, got.get("json", []), code


@pytest.mark.slow
def test_detect_source_mjpeg_and_json_ports(tmp_path):
    # long enough that the client connects while it plays; interrupted once the client has read
    clip = make_video(tmp_path / "clip.avi", frames=900, size=64)
    frames, records, _ = _run_detect_streaming(
        ["detect", "--source", str(clip), "--mjpeg-port", "0", "--json-port", "0", "--no-show"], tmp_path)
    assert len(frames) == 3 and frames[0].shape == (64, 64, 3)
    assert len(records) == 2
    for rec in records:
        _check_frame_record(rec)
        assert rec["filename"] == str(clip)
    assert not (tmp_path / "predictions.mp4").exists()  # streaming without --out writes no file


def test_darknet_demo_flags_reach_the_stream_options():
    from darkpy.cli import load_commands
    from darkpy.cli.commands.detector import target_arity

    load_commands()
    notes: list = []
    argv = translate(DETECTOR["demo"], ["cfg/coco.data", "y.cfg", "y.weights", "clip.mp4", "-mjpeg_port",
                                        "8090", "-json_port", "8070", "-dont_show"], target_arity(("detect",)),
                     notes.append)
    assert argv[argv.index("--mjpeg-port") + 1] == "8090" and argv[argv.index("--json-port") + 1] == "8070"
    assert "--source" in argv and "--no-show" in argv
    assert not any("mjpeg" in n or "json_port" in n for n in notes), notes


def test_stream_ports_need_a_source(cli):
    code, _, err = cli("detect", "data/demo/images/001988.jpg", "--mjpeg-port", "8090")
    assert code == 2 and "--source" in err


def test_same_port_twice_is_refused():
    from darkpy.errors import UsageError

    with pytest.raises(UsageError, match="two ports"):
        StreamServer("127.0.0.1", 8090, 8090)


def test_a_port_in_use_is_a_one_line_error():
    from darkpy.errors import UsageError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"--mjpeg-port {port}: cannot listen"):
            StreamServer("127.0.0.1", port, None).start()


@pytest.mark.slow
def test_sigterm_ends_open_streams_and_exits_0(video):
    from tests.serve.conftest import Server

    srv = Server("--source", str(video))
    got: list = []
    errors: list = []

    def watch() -> None:
        try:
            with _open(srv.url + "stream.mjpg") as sock:
                r = Reader(sock)
                r.head()
                while True:
                    r.until(b"\r\n\r\n")
                    got.append(1)
        except (EOFError, OSError) as exc:
            errors.append(exc)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    assert wait_for(lambda: len(got) >= 2, timeout=60)
    start = time.monotonic()
    assert srv.stop() == 0, "".join(srv.lines)
    t.join(10)
    assert not t.is_alive() and errors  # the stream was ended by the server, not left hanging
    assert time.monotonic() - start < 15
