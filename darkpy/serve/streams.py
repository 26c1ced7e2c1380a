"""Live streams of a detection run: annotated frames as MJPEG (`multipart/x-mixed-replace`, what
an `<img>` tag shows live) and each frame's detections as JSON lines, AlexeyAB's `-mjpeg_port` /
`-json_port`.

A `FrameHub` holds only the newest frame. Detection publishes into it without ever waiting; each
client's coroutine sends the newest frame whenever it has finished sending the previous one, so a
slow client skips frames, a stalled one is dropped after `SEND_TIMEOUT` seconds, and memory per
client is one frame whatever the client does."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import AsyncIterator, Optional

from aiohttp import web

from darkpy.errors import UsageError

BOUNDARY = "mjpegstream"
SEND_TIMEOUT = 10.0


class FrameHub:
    """The newest payload of a stream, handed to any number of async clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._payload: Optional[bytes] = None
        self._waiters: set = set()        # (loop, asyncio.Event) per connected client
        self.closed = False

    @property
    def clients(self) -> int:
        return len(self._waiters)

    def publish(self, payload: bytes) -> None:
        """Called from any thread; returns at once."""
        with self._lock:
            self._seq += 1
            self._payload = payload
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that client's loop is gone
                pass

    def close(self) -> None:
        """End every client's stream (shutdown)."""
        with self._lock:
            self.closed = True
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass

    async def frames(self) -> AsyncIterator[bytes]:
        """The newest payload each time one arrives that this client has not had."""
        me = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(me)
            if self._payload is not None:
                me[1].set()
        seen = 0
        try:
            while True:
                await me[1].wait()
                me[1].clear()
                with self._lock:
                    if self.closed:
                        return
                    seq, payload = self._seq, self._payload
                if seq != seen and payload is not None:
                    seen = seq
                    yield payload
        finally:
            with self._lock:
                self._waiters.discard(me)


async def _send(resp: web.StreamResponse, data: bytes) -> None:
    await asyncio.wait_for(resp.write(data), SEND_TIMEOUT)


async def mjpeg_response(request: web.Request, hub: FrameHub) -> web.StreamResponse:
    """The MJPEG stream of `hub` (JPEG payloads) to one client, until it leaves or the hub closes."""
    resp = web.StreamResponse(headers={
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Cache-Control": "no-cache, no-store", "Pragma": "no-cache", "Connection": "close"})
    await resp.prepare(request)
    try:
        async for jpeg in hub.frames():
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            await _send(resp, head.encode() + jpeg + b"\r\n")
    except (ConnectionError, asyncio.TimeoutError):
        pass  # the client left or stopped reading: its stream ends, detection goes on
    return resp


async def json_response(request: web.Request, hub: FrameHub) -> web.StreamResponse:
    """The JSON-lines stream of `hub` (one JSON object per line) to one client."""
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache",
                                       "Connection": "close"})
    await resp.prepare(request)
    try:
        async for line in hub.frames():
            await _send(resp, line)
    except (ConnectionError, asyncio.TimeoutError):
        pass
    return resp


def encode_jpeg(bgr, quality: int = 80) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return buf.tobytes() if ok else b""


def json_line(record: dict) -> bytes:
    return (json.dumps(record) + "\n").encode()


class StreamServer:
    """The MJPEG and JSON ports of a detection run (`darkpy detect --source ... --mjpeg-port P
    --json-port Q`), served from a background thread with its own event loop; any path on a
    port gets its stream, as AlexeyAB's. Port 0 picks a free port (`ports` says which)."""

    def __init__(self, host: str = "127.0.0.1", mjpeg_port: Optional[int] = None,
                 json_port: Optional[int] = None):
        if mjpeg_port is not None and json_port is not None and mjpeg_port == json_port and mjpeg_port != 0:
            raise UsageError(f"--mjpeg-port and --json-port are both {mjpeg_port}: give two ports")
        for flag, port in (("--mjpeg-port", mjpeg_port), ("--json-port", json_port)):
            if port is not None and not 0 <= port <= 65535:
                raise UsageError(f"{flag} must lie in 0..65535, got {port}")
        self.host = host
        self.wanted = {"mjpeg": mjpeg_port, "json": json_port}
        self.mjpeg = FrameHub() if mjpeg_port is not None else None
        self.json = FrameHub() if json_port is not None else None
        self.ports: dict[str, int] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._stop: Optional[asyncio.Event] = None

    def start(self) -> "StreamServer":
        self._thread = threading.Thread(target=self._run, name="darkpy-streams", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runners = []
        try:
            kinds = (("mjpeg", self.mjpeg, mjpeg_response), ("json", self.json, json_response))
            for kind, hub, handler in kinds:
                if hub is None:
                    continue
                app = web.Application()

                async def stream(request, hub=hub, handler=handler):
                    return await handler(request, hub)

                app.router.add_get("/{tail:.*}", stream)
                runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
                await runner.setup()
                runners.append(runner)
                site = web.TCPSite(runner, self.host, self.wanted[kind])
                try:
                    await site.start()
                except OSError as exc:
                    flag = "--mjpeg-port" if kind == "mjpeg" else "--json-port"
                    raise UsageError(f"{flag} {self.wanted[kind]}: cannot listen on {self.host} "
                                     f"({exc.strerror or exc})") from None
                self.ports[kind] = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            for hub in (self.mjpeg, self.json):
                if hub is not None:
                    hub.close()
            for runner in runners:
                await runner.cleanup()

    def url(self, kind: str) -> str:
        return f"http://{self.host}:{self.ports[kind]}/"

    @property
    def watched(self) -> bool:
        """Whether any client is connected (frames are encoded only then)."""
        return any(h is not None and h.clients for h in (self.mjpeg, self.json))

    def publish_frame(self, bgr) -> None:
        if self.mjpeg is not None and self.mjpeg.clients:
            self.mjpeg.publish(encode_jpeg(bgr))

    def publish_json(self, record: dict) -> None:
        if self.json is not None and self.json.clients:
            self.json.publish(json_line(record))

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "StreamServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
