"""`darkpy serve --source 0|VIDEO`: frames from a camera or a video file go through the server's
batcher (one network, shared with uploads), are drawn, and feed the `/stream.mjpg` and
`/stream.json` hubs. Nobody watching: frames are read (a camera's buffer stays fresh) but not
detected. A video file plays in a loop at its own frame rate, so the page always has a picture."""
from __future__ import annotations

import sys
import threading
import time
from typing import Callable

from darkpy.detect.video import open_capture, parse_source
from darkpy.errors import DarkpyError
from darkpy.serve.batching import Batcher, QueueFull
from darkpy.serve.streams import FrameHub, encode_jpeg, json_line


class LiveSource(threading.Thread):
    def __init__(self, source: str, batcher: Batcher, prepare: Callable, settings, draw: Callable,
                 to_json: Callable, mjpeg: FrameHub, json_hub: FrameHub):
        super().__init__(name="darkpy-live", daemon=True)
        self.source, self.batcher, self.prepare, self.settings = source, batcher, prepare, settings
        self.draw, self.to_json, self.mjpeg, self.json_hub = draw, to_json, mjpeg, json_hub
        self.stop_event = threading.Event()
        self.frames = 0

    def run(self) -> None:
        import cv2

        try:
            cap = open_capture(self.source)
        except DarkpyError as exc:
            print(f"darkpy: live stream off: {exc}", file=sys.stderr)
            return
        camera = isinstance(parse_source(self.source), int)
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        period = 1.0 / (fps if 1 <= fps <= 240 else 30.0)
        next_at = time.monotonic()
        frame_id = 0
        try:
            while not self.stop_event.is_set():
                ok, frame = cap.read()
                if not ok or frame is None:
                    if camera:
                        print(f"darkpy: camera {self.source} stopped delivering frames; live stream ended",
                              file=sys.stderr)
                        break
                    cap.release()
                    cap = open_capture(self.source)  # a file: play it again
                    continue
                if not camera:  # a file plays at its own pace, not as fast as it decodes
                    next_at += period
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        self.stop_event.wait(delay)
                    else:
                        next_at = time.monotonic()
                if not (self.mjpeg.clients or self.json_hub.clients):
                    continue
                frame_id += 1
                self._detect(frame, frame_id)
        finally:
            cap.release()

    def _detect(self, frame, frame_id: int) -> None:
        x, size = self.prepare(frame)
        try:
            result = self.batcher.submit(x, size, self.settings, f"frame {frame_id}").result(timeout=60)
        except QueueFull:
            return  # uploads are queued up: this frame is dropped, the stream goes on
        self.frames += 1
        if self.mjpeg.clients:
            self.mjpeg.publish(encode_jpeg(self.draw(frame, result)))
        if self.json_hub.clients:
            self.json_hub.publish(json_line(self.to_json(result, frame_id, str(self.source))))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)
