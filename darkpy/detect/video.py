"""Detection on video files and webcams (Darknet's `detector demo`), as a three-stage pipeline.

A reader thread decodes frames into a small queue, the calling thread runs inference, and a writer
thread draws and writes (or shows) the annotated frames, so the frame rate is bounded by
inference rather than by decoding or encoding. With a display, frames are shown in a window with
the FPS; without one (headless OpenCV, no $DISPLAY) they are written to a video file. A camera
that stops delivering frames ends the run cleanly with a message.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from darkpy.detect.base import DetectorBase
from darkpy.detect.detector import Detector
from darkpy.detect.output import draw_detections
from darkpy.detect.lanes import ForwardLanes
from darkpy.detect.overlap import IO_METER, CoreSplit
from darkpy.errors import DataError, UsageError
from darkpy.fileio import check_output_file, refuse_overwrite
from darkpy.formats.image import quiet_opencv

_END = object()


def parse_source(source: str | int) -> str | int:
    """'0' (or 0) -> webcam index 0; anything else is a file path or stream URL."""
    if isinstance(source, int):
        return source
    text = str(source).strip()
    return int(text) if text.isdigit() else text


def open_capture(source: str | int):
    import cv2

    src = parse_source(source)
    if isinstance(src, str) and "://" not in src and not Path(src).is_file():
        raise DataError("video file not found", file=src)
    quiet_opencv()  # darkpy says "cannot open ..." itself; OpenCV's [ WARN ] lines would repeat it
    cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        what = f"camera {src}" if isinstance(src, int) else f"video {src}"
        raise DataError(f"cannot open {what}")
    return cap


def display_available() -> bool:
    """True when OpenCV can open a window here (a GUI build and, on Linux, a display)."""
    import cv2

    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not has_display:
        return False
    try:
        cv2.namedWindow("darkpy")
        cv2.destroyWindow("darkpy")
        return True
    except cv2.error:
        return False


class FrameReader(threading.Thread):
    """Decodes frames ahead of inference into a bounded queue; with `prepare`, also turns each one
    into the network input there (letterbox), so the inference thread only runs the network.

    `live` (a camera or a network stream): the source keeps its own pace, so frames the network
    cannot keep up with are skipped rather than queued (a queue would show the scene later and
    later): the reader keeps grabbing, and decodes and prepares a frame only when the inference
    thread has room for it; `skipped` counts the others. A file is read frame by frame."""

    def __init__(self, cap, max_frames: int | None = None, depth: int = 4, prepare: Callable | None = None,
                 live: bool = False):
        super().__init__(daemon=True)
        self.cap, self.max_frames, self.prepare, self.live = cap, max_frames, prepare, live
        self.frames: queue.Queue = queue.Queue(maxsize=1 if live else depth)
        self.stop_event = threading.Event()
        self.failed = False  # the source stopped delivering before the requested frames
        self.skipped = 0

    def _next(self):
        """(ok, frame), skipping what the consumer has no room for when live."""
        if not (self.live and hasattr(self.cap, "grab")):
            return self.cap.read()
        while not self.stop_event.is_set():
            if not self.cap.grab():
                return False, None
            if not self.frames.full():
                return self.cap.retrieve()
            self.skipped += 1
        return False, None

    def run(self) -> None:
        n = 0
        try:
            while not self.stop_event.is_set() and (self.max_frames is None or n < self.max_frames):
                t = time.thread_time()
                ok, frame = self._next()
                if not ok or frame is None:
                    self.failed = not self.stop_event.is_set()
                    break
                x = self.prepare(frame) if self.prepare is not None else None
                IO_METER.add(time.thread_time() - t)
                self._put((frame, x))
                n += 1
        finally:
            self._put(_END)

    def _put(self, item) -> None:
        while not self.stop_event.is_set():
            try:
                self.frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        if item is _END:  # stopping: make room so the consumer can still see the end marker
            try:
                self.frames.put_nowait(item)
            except queue.Full:
                pass


def fps_label_style(width: int, height: int) -> tuple[float, int, tuple[int, int]]:
    """(font scale, thickness, origin) of the FPS overlay: 0.7 on a 480-pixel frame, in proportion
    to the frame's shorter side, so it reads the same on a 160-pixel clip and a 4K stream."""
    scale = max(0.3, 0.7 * min(width, height) / 480)
    return scale, max(1, round(2 * scale / 0.7)), (max(2, round(8 * scale / 0.7)), max(8, round(24 * scale / 0.7)))


class FrameWriter(threading.Thread):
    """Draws, overlays the FPS and writes (or shows) frames handed to it; `on_drawn(img)` also
    gets each annotated frame (the live MJPEG stream)."""

    def __init__(self, out_path: Path | None, fps: float, show: bool, draw: Callable,
                 on_drawn: Callable[[np.ndarray], None] | None = None):
        super().__init__(daemon=True)
        self.out_path, self.fps, self.show, self.draw = out_path, fps, show, draw
        self.on_drawn = on_drawn
        self.jobs: queue.Queue = queue.Queue(maxsize=4)
        self.writer = None
        self.written = 0
        self.quit = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        import cv2

        try:
            while True:
                job = self.jobs.get()
                if job is _END:
                    break
                t = time.thread_time()
                self._frame(cv2, *job)
                IO_METER.add(time.thread_time() - t)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.quit.set()
            while True:  # drain so the producer never blocks
                if self.jobs.get() is _END:
                    break
        finally:
            if self.writer is not None:
                self.writer.release()
            if self.show:
                try:
                    cv2.destroyAllWindows()
                except cv2.error:
                    pass

    def _frame(self, cv2, frame, dets, fps) -> None:
        img = self.draw(frame, dets)
        scale, thickness, origin = fps_label_style(img.shape[1], img.shape[0])
        cv2.putText(img, f"FPS: {fps:.1f}", origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 255, 0),
                    thickness, cv2.LINE_AA)
        if self.on_drawn is not None:
            self.on_drawn(img)
        if self.show:
            cv2.imshow("darkpy", img)
            if cv2.waitKey(1) & 0xFF in (27, ord("q")):
                self.quit.set()
        if self.out_path is not None:
            if self.writer is None:
                h, w = img.shape[:2]
                codec = "MJPG" if self.out_path.suffix.lower() == ".avi" else "mp4v"
                self.out_path.parent.mkdir(parents=True, exist_ok=True)
                self.writer = cv2.VideoWriter(str(self.out_path), cv2.VideoWriter_fourcc(*codec),
                                              self.fps, (w, h))
                if not self.writer.isOpened():
                    raise DataError("OpenCV cannot write this video (try a .avi name)",
                                    file=self.out_path)
            self.writer.write(img)
        self.written += 1


@dataclass
class VideoStats:
    frames: int
    seconds: float
    fps: float
    out: Path | None
    ended_early: bool
    message: str
    skipped: int = 0      # frames of a live source dropped because inference was busy


def run_video(detector, source: str | int, out: str | Path | None = None, frames: int | None = None,
              show: bool | None = None, on_frame: Callable[[int, list], None] | None = None,
              options=None, on_drawn: Callable[[np.ndarray], None] | None = None) -> VideoStats:
    """Detect on every frame of `source` (a path or a webcam index) until it ends or after `frames`
    frames. `detector`: a `Detector` or `NumpyDetector` (or a network, run with `options`, default `DetectOptions()`).
    `show=None` shows a window when a display exists; frames are written to `out` when given, or
    when no window can be shown (then `predictions.mp4` by default). `on_frame(i, result)` gets
    each frame's `DetectionResult` (a sequence of detections); `on_drawn(img)` each annotated
    frame, from the drawing thread (a live stream: then, without `out` and a window, no file is
    written)."""
    if frames is not None and frames < 1:
        raise UsageError("--frames must be at least 1")
    if not isinstance(detector, DetectorBase):
        detector = Detector(detector, options=options)
    classes = detector.classes
    if show is None:
        show = display_available()
    elif show and not display_available():
        print("darkpy: no display (or a headless OpenCV): writing a video file instead", file=sys.stderr)
        show = False
    streaming = on_drawn is not None
    out_path = Path(out) if out is not None else (None if show or streaming else Path("predictions.mp4"))
    if out_path is not None:
        if not isinstance(parse_source(source), int):
            refuse_overwrite(out_path, [source])
        check_output_file(out_path)
    cap = open_capture(source)
    src = parse_source(source)
    fps_in = cap.get(__import__("cv2").CAP_PROP_FPS) or 0.0
    fps_in = fps_in if 1 <= fps_in <= 240 else 30.0
    to_input = detector.prepare

    live = isinstance(src, int) or (isinstance(src, str) and "://" in src)
    reader = FrameReader(cap, frames, prepare=to_input, live=live)
    writer = FrameWriter(out_path, fps_in, show, lambda f, d: draw_detections(f, d, classes), on_drawn)
    reader.start()
    writer.start()
    count, start, fps = 0, time.perf_counter(), 0.0
    on_torch = isinstance(detector, Detector)
    # frames side by side on the cores (darkpy.detect.lanes), else one at a time with the
    # measured core split; torch's threads only
    lanes = ForwardLanes.for_machine(detector.predictor.device.type) if on_torch else None
    split = CoreSplit(settle=8) if on_torch and lanes is None else None

    def frames_in():
        n = 0
        while not writer.quit.is_set():
            item = reader.frames.get()
            if item is _END:
                return
            yield n, item
            n += 1

    def infer(job):
        n, (frame, (x, size)) = job
        with split.forward(1) if split is not None else nullcontext():
            return frame, detector.run_prepared(x[None], [size], [f"frame {n}"], [n])[0]

    try:
        for frame, dets in (lanes.map(infer, frames_in()) if lanes is not None else map(infer, frames_in())):
            # frames so far over time so far: the figure the closing console line gives for the run
            fps = (count + 1) / max(time.perf_counter() - start, 1e-9)
            if on_frame is not None:
                on_frame(count, dets)
            writer.jobs.put((frame, dets, fps))
            count += 1
            if writer.quit.is_set():
                break
    finally:
        if split is not None:
            split.restore()
        reader.stop_event.set()
        writer.jobs.put(_END)
        writer.join()
        reader.join(timeout=2)
        cap.release()
    if isinstance(writer.error, OSError):
        raise DataError(f"cannot write the video: {writer.error.strerror or writer.error}", file=out_path)
    if writer.error is not None:
        raise writer.error
    seconds = time.perf_counter() - start
    ended_early = reader.failed and isinstance(src, int)
    if ended_early:
        message = f"camera {src} stopped delivering frames after {count} frames; stopped"
    else:
        message = f"{count} frames in {seconds:.2f} s ({count / max(seconds, 1e-9):.1f} FPS)"
    if reader.skipped:
        message += f"; {reader.skipped} frames of the live source skipped to stay current"
    return VideoStats(count, seconds, count / max(seconds, 1e-9), out_path, ended_early, message,
                      reader.skipped)
