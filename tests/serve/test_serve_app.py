"""`darkpy serve` as users meet it: a real process on a loopback port, driven over HTTP."""
from __future__ import annotations

import json
import os
import socket
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import cv2
import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")

from tests.serve.conftest import DEMO_IMAGES, multipart, post_image, request  # noqa: E402

IMAGES = ["001988.jpg", "001989.jpg", "001990.jpg"]


def _cli_json(cli, path) -> dict:
    code, out, err = cli("detect", path, "--json", "--precision", "fp32", "--no-save")
    assert code == 0, err
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def _same(served: dict, printed: dict) -> None:
    assert (served["width"], served["height"]) == (printed["width"], printed["height"])
    assert len(served["detections"]) == len(printed["detections"])
    for a, b in zip(served["detections"], printed["detections"]):
        assert (a["class"], a["class_id"]) == (b["class"], b["class_id"])
        assert abs(a["confidence"] - b["confidence"]) <= 1e-4
        assert abs(a["objectness"] - b["objectness"]) <= 1e-4
        assert np.allclose(a["box"], b["box"], atol=0.02)


def test_healthz(server):
    status, _, body = request(server.url + "healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["classes"] == 3


@pytest.mark.parametrize("name", IMAGES)
def test_detect_matches_detect_json(server, cli, name):
    path = DEMO_IMAGES / name
    printed = _cli_json(cli, path)
    status, served = post_image(server.url, path.read_bytes())
    assert status == 200, served
    _same(served, printed)
    assert served["detections"], "the demo images hold shapes the demo model finds"


def test_png_and_multipart_give_the_same_answer(server, cli):
    path = DEMO_IMAGES / IMAGES[0]
    printed = _cli_json(cli, path)
    # lossless: the same pixels as the decoded JPEG
    png = cv2.imencode(".png", cv2.imread(str(path)))[1].tobytes()
    status, served = post_image(server.url, png, "image/png")
    assert status == 200
    _same(served, printed)
    body, ctype = multipart("image", "shapes.jpg", path.read_bytes())
    status, served = post_image(server.url, body, ctype)
    assert status == 200 and served["image"] == "shapes.jpg"
    _same(served, printed)


def test_query_thresholds(server, cli):
    path = DEMO_IMAGES / IMAGES[0]
    code, out, _ = cli("detect", path, "--json", "--precision", "fp32", "--no-save", "--thresh", "0.2",
                       "--nms", "0.3")
    printed = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    status, served = post_image(server.url, path.read_bytes(), query="?thresh=0.2&nms=0.3&hier=0.5")
    assert status == 200
    _same(served, printed)
    for query in ("?thresh=2", "?nms=abc", "?hier=-1"):
        status, answer = post_image(server.url, path.read_bytes(), query=query)
        assert status == 400 and "\n" not in answer["error"]


def test_64_concurrent_requests(server):
    data = [(DEMO_IMAGES / n).read_bytes() for n in IMAGES]
    alone = [post_image(server.url, d)[1] for d in data]
    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(lambda i: post_image(server.url, data[i % 3]), range(64)))
    for i, (status, body) in enumerate(answers):
        assert status == 200, body
        _same(body, alone[i % 3])  # batched with others: the same numbers as alone (to float rounding)


def _truncated_png() -> bytes:
    png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[1].tobytes()
    return png[: len(png) // 2]


def _random_png_header() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return head + os.urandom(4096)


def _huge_png_header() -> bytes:  # a valid header that promises 100000 x 100000 pixels
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.mark.parametrize("what, body, ctype, expected", [
    ("empty", b"", "image/jpeg", 400),
    ("garbage", b"this is not an image at all" * 10, "image/jpeg", 400),
    ("truncated PNG", _truncated_png(), "image/png", 400),
    ("random PNG data", _random_png_header(), "image/png", 400),
    ("huge image", _huge_png_header(), "image/png", 413),
    ("64 MiB", b"\xff\xd8\xff" + bytes(64 << 20), "image/jpeg", 413),
    ("form without a file", b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n",
     "multipart/form-data; boundary=b", 400),
    ("broken form", b"no boundary here", "multipart/form-data; boundary=zzz", 400),
])
def test_bad_bodies_get_4xx_and_the_server_goes_on(server, what, body, ctype, expected):
    try:
        status, answer = post_image(server.url, body, ctype)
    except ConnectionError:  # the 64 MiB body: the server may answer and close before it is all sent
        assert expected == 413
    else:
        assert status == expected, (what, answer)
        assert answer["error"] and "\n" not in answer["error"]
    status, good = post_image(server.url, (DEMO_IMAGES / IMAGES[0]).read_bytes())
    assert status == 200 and good["detections"]


def test_client_that_disconnects_mid_upload(server):
    where = urlparse(server.url)
    for _ in range(3):
        with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
            sock.sendall(b"POST /detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                         b"Content-Length: 100000\r\n\r\n\xff\xd8\xff\xe0")
    status, good = post_image(server.url, (DEMO_IMAGES / IMAGES[1]).read_bytes())
    assert status == 200 and good["width"] == 96


def test_page_and_unknown_route(server):
    status, headers, body = request(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'id="file"' in body and b"/detect" in body and b"/stream.mjpg" in body
    status, _, body = request(server.url + "nowhere")
    assert status == 404 and json.loads(body)["error"]
    status, _, _ = request(server.url + "detect")  # GET on a POST route
    assert status == 405


def test_damaged_images_never_get_a_500(server):
    """Bytes flipped and files cut at random in a JPEG and a PNG: a result or a 400, nothing else."""
    rng = np.random.default_rng(1)
    jpeg = (DEMO_IMAGES / IMAGES[0]).read_bytes()
    png = cv2.imencode(".png", cv2.imread(str(DEMO_IMAGES / IMAGES[0])))[1].tobytes()
    for original in (jpeg, png):
        for _ in range(12):
            data = bytearray(original)
            if rng.random() < 0.5:
                for i in rng.integers(0, len(data), 8):
                    data[i] = int(rng.integers(0, 256))
            else:
                data = data[: int(rng.integers(1, len(data)))]
            status, answer = post_image(server.url, bytes(data), "application/octet-stream")
            assert status in (200, 400), answer
    status, _, _ = request(server.url + "healthz")
    assert status == 200
