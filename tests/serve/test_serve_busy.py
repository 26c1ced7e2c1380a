"""503 when the queue is full, in-process (aiohttp's test server) so the queue state is exact."""
from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

import darkpy  # noqa: E402
from darkpy.serve import engine  # noqa: E402
from darkpy.serve.app import SERVICE, ServeConfig, make_app  # noqa: E402
from tests.serve.conftest import DEMO_IMAGES, REPO  # noqa: E402


def test_a_full_queue_answers_503_then_recovers():
    net = darkpy.load_network(REPO / "cfg" / "demo.cfg", REPO / "data" / "demo" / "demo.weights",
                              device="cpu")
    detector = engine.make_detector(net, names=None, thresh=0.5, nms=0.45, hier_thresh=0.5, letterbox=True,
                                    device="cpu", precision="fp32", batch=1)
    app = make_app(detector, ServeConfig(queue_size=1))
    batcher = app[SERVICE].batcher
    real, started, release = batcher.run_batch, threading.Event(), threading.Event()

    def held(*args):
        started.set()
        release.wait(30)
        return real(*args)

    batcher.run_batch = held
    image = (DEMO_IMAGES / "001988.jpg").read_bytes()

    async def scenario():
        async with TestClient(TestServer(app)) as client:
            async def post():
                return await client.post("/detect", data=image, headers={"Content-Type": "image/jpeg"})

            running = asyncio.create_task(post())
            while not started.is_set():
                await asyncio.sleep(0.01)
            queued = asyncio.create_task(post())
            while not batcher.full():
                await asyncio.sleep(0.01)
            busy = await post()
            assert busy.status == 503 and busy.headers["Retry-After"] == "1"
            assert "busy" in (await busy.json())["error"]
            release.set()
            for task in (running, queued):
                resp = await task
                assert resp.status == 200 and (await resp.json())["detections"]
            health = await client.get("/healthz")
            assert (await health.json())["refused"] == 1

    asyncio.run(scenario())
