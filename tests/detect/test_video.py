"""Video pipeline: a camera that disappears ends the run cleanly."""
from __future__ import annotations

import numpy as np
import pytest

import darkpy
import darkpy.detect.video as video
from tests.detnet import make_detector


def read_video_frames(path) -> list[np.ndarray]:
    """All frames of a video file."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


class VanishingCamera:
    def __init__(self, frames):
        self.left = frames

    def read(self):
        if self.left == 0:
            return False, None
        self.left -= 1
        frame = np.zeros((64, 64, 3), np.uint8)
        frame[:32, :32] = (0, 255, 255)
        return True, frame

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_camera_that_disappears_ends_cleanly(tmp_path, monkeypatch):
    cfg, weights, _ = make_detector(tmp_path / "m")
    net = darkpy.load_network(cfg, weights, device="cpu")
    monkeypatch.setattr(video, "open_capture", lambda source: VanishingCamera(3))
    seen = []
    stats = video.run_video(net, 0, out=tmp_path / "o.avi", frames=10, show=False,
                            on_frame=lambda i, d: seen.append(len(d)))
    assert stats.frames == 3 and stats.ended_early and "camera 0 stopped" in stats.message
    assert seen == [1, 1, 1]
    assert len(read_video_frames(tmp_path / "o.avi")) == 3


def test_parse_source():
    assert video.parse_source("0") == 0 and video.parse_source("clip.mp4") == "clip.mp4"


def test_fps_overlay_scales_with_the_frame():
    from darkpy.detect.video import fps_label_style

    small, big = fps_label_style(160, 120), fps_label_style(3840, 2160)
    assert fps_label_style(640, 480)[0] == pytest.approx(0.7)
    assert small[0] < 0.7 < big[0] and small[1] <= 2 <= big[1] and big[2][1] > 24


class FastCamera(VanishingCamera):
    """A live source with OpenCV's grab/retrieve, delivering faster than the network runs."""

    def __init__(self, frames):
        super().__init__(frames)
        self.grabbed = 0
        self.decoded = 0

    def grab(self):
        import time

        time.sleep(0.002)
        if self.left == 0:
            return False
        self.left -= 1
        self.grabbed += 1
        return True

    def retrieve(self):
        self.decoded += 1
        return True, np.zeros((64, 64, 3), np.uint8)


def test_a_live_source_skips_frames_instead_of_falling_behind(tmp_path, monkeypatch):
    """Inference slower than the camera: stale frames are skipped (and never decoded), not
    queued; a file is read frame by frame (test above)."""
    import time

    cfg, weights, _ = make_detector(tmp_path / "m")
    net = darkpy.load_network(cfg, weights, device="cpu")
    detector = darkpy.Detector(net)
    slow = detector.run_prepared

    def run_prepared(*args, **kwargs):
        time.sleep(0.03)
        return slow(*args, **kwargs)

    monkeypatch.setattr(detector, "run_prepared", run_prepared)
    cam = FastCamera(60)
    monkeypatch.setattr(video, "open_capture", lambda source: cam)
    stats = video.run_video(detector, 0, out=tmp_path / "o.avi", show=False)
    assert stats.skipped > 0 and stats.frames + stats.skipped == cam.grabbed == 60
    assert cam.decoded == stats.frames
    assert f"{stats.skipped} frames of the live source skipped" in stats.message
