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
