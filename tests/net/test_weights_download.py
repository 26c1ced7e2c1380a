"""`darkpy weights list|download` against a local HTTP server (no network): progress, resume after a
cut, refusal of a file whose size does not fit the cfg, and `detect --model` finding the result."""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from darkpy.errors import DataError, WeightsError
from darkpy.net.download import check_file, download
from darkpy.net.published import CATALOG, find_published


class Files(BaseHTTPRequestHandler):
    """Serves `files` with HTTP Range; `cut` (a byte count) makes the first full GET stop there."""

    files: dict[str, bytes] = {}
    cut: int | None = None
    ranges: list[str | None] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        if start >= len(body) and rng:
            self.send_error(416)
            return
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if type(self).cut is not None and not rng:
            chunk = chunk[:type(self).cut]
            type(self).cut = None
        self.wfile.write(chunk)

    def log_message(self, *args):
        pass


class QuietHTTPServer(ThreadingHTTPServer):
    """A client hanging up mid-body is part of these tests (a resumed or abandoned download):
    socketserver would print its traceback from the server thread, outside any test's capture."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def server():
    Files.files, Files.cut, Files.ranges = {}, None, []
    httpd = QuietHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> bytes:
    """A tiny.weights as Darknet publishes it: written by darkpy's own writer, right size for cfg/tiny.cfg."""
    from darkpy.net.model import load_network

    path = tmp_path_factory.mktemp("w") / "tiny.weights"
    load_network(find_published("tiny").cfg_path(), device="cpu", seed=1).save_weights(path)
    return path.read_bytes()


def test_every_size_matches_the_model_builder():
    from darkpy.net.model import parse_network

    for p in CATALOG:
        net = parse_network(p.cfg_path())
        layers = [l for l in net.blocks if l.has_weights and (p.upto is None or l.index < p.upto)]
        assert p.size() == p.header + 4 * sum(l.num_weight_floats() for l in layers)
    # the sizes Darknet's files are known by
    assert find_published("yolov2").size() == 203_934_260
    assert find_published("darknet19_448.conv.23").size() == 79_327_120
    assert find_published("yolov3").size() == 248_007_048


def test_every_shipped_cfg_is_accounted_for(repo):
    from darkpy.net.published import UNPUBLISHED

    covered = {p.cfg for p in CATALOG} | set(UNPUBLISHED)
    shipped = {f"cfg/{f.name}" for f in (repo / "cfg").glob("*.cfg")}
    assert shipped <= covered


def test_download_checks_and_renames(server, tmp_path, tiny_weights):
    Files.files = {"tiny.weights": tiny_weights}
    done = download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)
    assert done.path == tmp_path / "tiny.weights" and done.path.read_bytes() == tiny_weights
    assert not (tmp_path / "tiny.weights.part").exists() and done.resumed_from == 0
    again = download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)
    assert again.already and Files.ranges == [None]


def test_resume_after_a_cut(server, tmp_path, tiny_weights):
    Files.files = {"tiny.weights": tiny_weights}
    Files.cut = 1_000_000
    with pytest.raises(DataError, match="connection lost after 1000000 .*run the same command again"):
        download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)
    part = tmp_path / "tiny.weights.part"
    assert part.stat().st_size == 1_000_000 and not (tmp_path / "tiny.weights").exists()
    done = download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)
    assert done.resumed_from == 1_000_000 and Files.ranges[-1] == "bytes=1000000-"
    assert done.path.read_bytes() == tiny_weights and not part.exists()


def test_a_server_without_ranges_starts_over(tmp_path, tiny_weights):
    root = tmp_path / "www"
    root.mkdir()
    (root / "tiny.weights").write_bytes(tiny_weights)

    class Plain(SimpleHTTPRequestHandler):  # `python -m http.server`: no Range support
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args):
            pass

    httpd = QuietHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        dest = tmp_path / "dest"
        dest.mkdir()
        (dest / "tiny.weights.part").write_bytes(tiny_weights[:5000])
        notes = []
        done = download(find_published("tiny"), dest, url=f"http://127.0.0.1:{httpd.server_address[1]}/"
                        "tiny.weights", progress=False, log=notes.append)
        assert done.path.read_bytes() == tiny_weights and "does not resume" in notes[0]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_wrong_size_is_refused_and_not_kept(server, tmp_path, tiny_weights):
    Files.files = {"tiny.weights": tiny_weights + b"\0" * 8}
    with pytest.raises(WeightsError, match=r"do not fit cfg/tiny.cfg: .*needs 4185972"):
        download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)
    assert not (tmp_path / "tiny.weights").exists() and not (tmp_path / "tiny.weights.part").exists()


def test_an_html_page_is_not_weights(server, tmp_path):
    Files.files = {"tiny.weights": b"<html><body>moved</body></html>\n" * 4}
    with pytest.raises(WeightsError):
        download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)


def test_missing_file_is_one_line(server, tmp_path):
    with pytest.raises(DataError, match="HTTP 404"):
        download(find_published("tiny"), tmp_path, url=server + "tiny.weights", progress=False)


def test_cli_list_and_download(cli, server, tmp_path, tiny_weights, monkeypatch):
    code, out, _ = cli("weights", "list")
    assert code == 0
    for name in ("yolov2-voc.weights", "yolov2.weights", "yolov2-tiny-voc.weights", "yolo9000.weights",
                 "darknet19_448.conv.23", "pjreddie.com/media/files/yolov2-voc.weights", "202,704,260"):
        assert name in out
    Files.files = {"tiny.weights": tiny_weights}
    monkeypatch.setenv("DARKPY_WEIGHTS_URL", server)
    code, out, err = cli("weights", "download", "tiny", "-o", tmp_path / "w")
    assert code == 0, err
    assert f"saved {tmp_path / 'w' / 'tiny.weights'} ({len(tiny_weights):,} bytes" in out
    code, out, err = cli("weights", "download", "nope")
    assert code == 2 and "unknown weights" in err


def test_detect_model_finds_downloaded_weights(cli, server, tmp_path, monkeypatch, repo):
    """After `weights download`, `detect --model NAME` takes cfg, weights and names by name alone."""
    from darkpy.net.model import load_network

    entry = find_published("yolov3-tiny")
    src = tmp_path / "src.weights"
    load_network(entry.cfg_path(), device="cpu", seed=3).save_weights(src)
    Files.files = {entry.file: src.read_bytes()}
    monkeypatch.setenv("DARKPY_WEIGHTS", str(tmp_path / "cache"))
    code, _, err = cli("weights", "download", "yolov3-tiny", "--url", server)
    assert code == 0, err
    check_file(tmp_path / "cache" / entry.file, entry)
    code, out, err = cli("detect", repo / "data" / "dog.jpg", "--model", "yolov3-tiny", "--size", "128",
                         "--no-save", "--json")
    assert code == 0, err
    assert "bundled demo" not in err and '"width": 768' in out


def test_docs_page_lists_every_published_file(repo):
    text = (repo / "docs" / "weights.md").read_text()
    for p in CATALOG:
        row = next((l for l in text.splitlines() if l.startswith(f"| {p.name} | {p.file} |")), None)
        assert row is not None, p.name
        assert f"| {p.size():,} |" in row and f"https://pjreddie.com/media/files/{p.file}" in row
