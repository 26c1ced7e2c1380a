"""`darkpy serve`: the HTTP service around one `Detector` (aiohttp).

    POST /detect        an image body (image/jpeg, image/png, ...) or a multipart form with a file
                        -> the JSON object `darkpy detect --json` prints for it;
                        query: thresh, nms, hier (each in [0, 1])
    GET  /healthz       {"status": "ok", ...}
    GET  /              a page: upload an image, see its boxes; the live stream with --source
    GET  /stream.mjpg   (with --source) annotated frames, multipart/x-mixed-replace JPEG
    GET  /stream.json   (with --source) each frame's detections, AlexeyAB's fields, JSON lines

Requests are decoded and letterboxed in a thread pool, then batched (`darkpy.serve.batching`).
Every refusal is a 4xx with {"error": "one line"}: 400 for what is not a decodable image or a bad
query value, 413 for a body or an image over the limits, 503 when the queue is full; the server
keeps serving after each. SIGTERM or SIGINT: stop accepting, finish the requests in flight,
end the streams, exit 0."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

from aiohttp import web

from darkpy.detect.output import draw_detections
from darkpy.errors import DarkpyError
from darkpy.serve import engine
from darkpy.serve.batching import Batcher, QueueFull
from darkpy.serve.live import LiveSource
from darkpy.serve.page import render_page
from darkpy.serve.streams import FrameHub, json_response, mjpeg_response
from darkpy.serve.uploads import Refused, decode_upload, read_upload


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body: int = 16 << 20          # bytes
    max_pixels: int = 64_000_000      # width x height of one image
    queue_size: int = 256
    max_wait: float = 0.005           # seconds a batch waits for requests still decoding
    source: Optional[str] = None
    model: str = ""                   # what the page and /healthz say is running
    demo_image: Optional[str] = None  # served at /demo.jpg for the page's ?demo=1
    shutdown_timeout: float = 10.0


def _error(status: int, reason: str, **headers) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=headers or None)


def _query_thresholds(query, default: engine.Thresholds) -> engine.Thresholds:
    values = {}
    for key, field in (("thresh", "thresh"), ("nms", "nms"), ("hier", "hier_thresh")):
        text = query.get(key)
        if text is None or text == "":
            values[field] = getattr(default, field)
            continue
        try:
            value = float(text)
        except ValueError:
            raise Refused(400, f"query {key}={text!r} is not a number") from None
        if not 0 <= value <= 1:
            raise Refused(400, f"query {key}={text} must lie in [0, 1]")
        values[field] = value
    return engine.Thresholds(**values)


@web.middleware
async def _refusals(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Every failure as a JSON one-liner; nothing a client sends can take the server down."""
    try:
        return await handler(request)
    except Refused as exc:
        return _error(exc.status, exc.reason)
    except DarkpyError as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise  # the client went away: nothing to answer
    except Exception as exc:  # a bug in darkpy, not in the request: say so, keep serving
        traceback.print_exc(file=sys.stderr)
        return _error(500, f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])


class Service:
    """The state behind the routes: the detector, its batcher, the decoding pool, the streams."""

    def __init__(self, detector, config: ServeConfig):
        self.detector, self.config = detector, config
        self.runner = engine.Runner(detector)
        self.defaults = engine.thresholds(detector)
        self.batcher = Batcher(self.runner.run, engine.batch_size(detector), config.max_wait,
                               config.queue_size)
        self.pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)),
                                       thread_name_prefix="darkpy-decode")
        self.mjpeg, self.json = FrameHub(), FrameHub()
        self.live: Optional[LiveSource] = None
        self.served = 0
        self.refused = 0

    def _prepare(self, data: bytes):
        bgr = decode_upload(data, self.config.max_pixels)
        return engine.prepare(self.detector, bgr)

    def prepare_frame(self, frame):
        return engine.prepare(self.detector, frame)

    def draw(self, frame, result):
        return draw_detections(frame, engine.detections_of(result), engine.classes(self.detector))

    # -- routes ------------------------------------------------------------------------------
    async def detect(self, request: web.Request) -> web.Response:
        try:
            settings = _query_thresholds(request.query, self.defaults)
            if self.batcher.full():  # refused before reading and decoding the body
                raise Refused(503, "server busy: the request queue is full; retry shortly")
            data, filename = await read_upload(request, self.config.max_body)
            name = filename or request.query.get("name") or "upload"
            self.batcher.arriving(+1)
            try:
                x, size = await asyncio.get_running_loop().run_in_executor(self.pool, self._prepare, data)
            finally:
                self.batcher.arriving(-1)  # before submitting: a batch never waits for its own request
            try:
                future = self.batcher.submit(x, size, settings, name)
            except QueueFull as exc:
                raise Refused(503, f"server busy: {exc}; retry shortly") from None
            try:
                result = await asyncio.wrap_future(future)
            except QueueFull as exc:
                raise Refused(503, str(exc)) from None
        except Refused as exc:
            self.refused += 1
            headers = {"Retry-After": "1"} if exc.status == 503 else {}
            return _error(exc.status, exc.reason, **headers)
        self.served += 1
        return web.json_response(engine.result_json(result, name))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({
            "status": "ok", "model": self.config.model, "classes": engine.classes(self.detector),
            "batch": engine.batch_size(self.detector), "queued": self.batcher.pending(),
            "served": self.served, "refused": self.refused, "batches": self.batcher.batches,
            "live": self.config.source})

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=render_page(self.config.model, self.defaults.thresh, self.config.source),
                            content_type="text/html")

    async def demo_image(self, request: web.Request) -> web.StreamResponse:
        if self.config.demo_image is None:
            return _error(404, "no demo image")
        return web.FileResponse(self.config.demo_image, headers={"Content-Type": "image/jpeg"})

    async def stream_mjpeg(self, request: web.Request) -> web.StreamResponse:
        return await mjpeg_response(request, self.mjpeg)

    async def stream_json(self, request: web.Request) -> web.StreamResponse:
        return await json_response(request, self.json)

    # -- life --------------------------------------------------------------------------------
    async def on_startup(self, app: web.Application) -> None:
        if self.config.source is not None:
            self.live = LiveSource(self.config.source, self.batcher, self.prepare_frame, self.defaults,
                                   self.draw, engine.frame_json, self.mjpeg, self.json)
            self.live.start()

    async def on_shutdown(self, app: web.Application) -> None:
        self.mjpeg.close()
        self.json.close()

    async def on_cleanup(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        if self.live is not None:
            await loop.run_in_executor(None, self.live.stop)
        await loop.run_in_executor(None, self.batcher.close)
        self.pool.shutdown(wait=False)


SERVICE = web.AppKey("service", Service)


def make_app(detector, config: ServeConfig) -> web.Application:
    service = Service(detector, config)
    # the body limit is enforced while reading (uploads.read_upload); this one guards aiohttp's own reads
    app = web.Application(middlewares=[_refusals], client_max_size=config.max_body)
    app[SERVICE] = service
    app.router.add_get("/", service.page)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_post("/detect", service.detect)
    app.router.add_get("/demo.jpg", service.demo_image)
    if config.source is not None:
        app.router.add_get("/stream.mjpg", service.stream_mjpeg)
        app.router.add_get("/stream.json", service.stream_json)
    app.on_startup.append(service.on_startup)
    app.on_shutdown.append(service.on_shutdown)
    app.on_cleanup.append(service.on_cleanup)
    return app


async def _serve(app: web.Application, config: ServeConfig, on_ready: Callable[[str], None]) -> None:
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           shutdown_timeout=config.shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise DarkpyError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})") from None
    host, port = runner.addresses[0][:2]
    shown = f"[{host}]" if ":" in host else host
    on_ready(f"http://{shown}:{port}/")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(detector, config: ServeConfig, on_ready: Callable[[str], None] = print) -> None:
    """Serve until SIGTERM / SIGINT; `on_ready(url)` once the port is open."""
    asyncio.run(_serve(make_app(detector, config), config, on_ready))
