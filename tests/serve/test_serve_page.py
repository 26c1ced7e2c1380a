"""The page of `darkpy serve` in a real browser: headless Chromium (Debian's `chromium`, which the
quick start installs where it can) driven over the DevTools protocol: choose a file in the
upload field, wait for the drawing, check the boxes listed and a screenshot of the result."""
from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")

from tests.serve.conftest import DEMO_IMAGES  # noqa: E402

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian: apt-get install "
                                "chromium; bash scripts/quickstart.sh test installs it when run as root)")


class DevTools:
    """The few DevTools-protocol calls the test needs, over aiohttp's websocket client."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_json({"id": my_id, "method": method, "params": params})
        while True:
            msg = json.loads((await asyncio.wait_for(self.ws.receive(), 60)).data)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    async def value(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.value(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


def _launch(profile: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "--window-size=900,1100", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if port_file.is_file() and port_file.read_text().strip():
            return proc, int(port_file.read_text().split()[0])
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    pytest.fail("headless Chromium did not start")


async def _drive(devtools_port: int, url: str, image: Path) -> tuple[list[str], str, bytes, dict]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{devtools_port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        page = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            dt = DevTools(ws)
            await dt.call("Page.enable")
            await dt.call("Page.navigate", url=url)
            await dt.until("document.readyState === 'complete' && !!document.getElementById('file')")
            root = await dt.call("DOM.getDocument")
            node = await dt.call("DOM.querySelector", nodeId=root["root"]["nodeId"], selector="#file")
            await dt.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(image)])
            state = await dt.until("['done', 'error'].includes(document.body.dataset.state) && "
                                   "document.body.dataset.state")
            boxes = await dt.value("[...document.querySelectorAll('#boxes li')].map(e => e.textContent)")
            status = await dt.value("document.getElementById('status').textContent")
            canvas = await dt.value("(() => { const c = document.getElementById('canvas'); "
                                    "return {width: c.width, height: c.height}; })()")
            shot = await dt.call("Page.captureScreenshot", format="png")
            assert state == "done", status
            return boxes, status, base64.b64decode(shot["data"]), canvas


def test_page_uploads_an_image_and_draws_its_boxes(server, tmp_path):
    image = tmp_path / "shapes.jpg"
    image.write_bytes((DEMO_IMAGES / "001988.jpg").read_bytes())
    proc, port = _launch(tmp_path / "profile")
    try:
        boxes, status, png, canvas = asyncio.run(_drive(port, server.url, image))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert boxes and all("%" in b and "[" in b for b in boxes), boxes
    assert any(b.startswith("square") for b in boxes)
    assert "shapes.jpg: 96x96" in status
    assert canvas["width"] == canvas["height"] >= 96  # a 96x96 image, drawn enlarged
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert shot is not None and shot.shape[0] > 100 and shot.std() > 1
    # the square's box is drawn in its class colour (#3cb44b, class 1) on the canvas
    green = np.all(np.abs(shot.astype(int) - (0x4b, 0xb4, 0x3c)) <= 12, axis=2)
    assert green.sum() > 50
