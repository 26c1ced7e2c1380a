"""Outputs never overwrite inputs; an output that cannot be written is one line before the work."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darkpy.errors import UsageError
from darkpy.fileio import refuse_overwrite

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CFG = GOLDEN / "cfg" / "g_yolov2_mini.cfg"
WEIGHTS = GOLDEN / "forward" / "g_yolov2_mini" / "weights"


@pytest.fixture
def video(tmp_path) -> Path:
    import cv2

    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(3):
        w.write(np.full((48, 64, 3), 40 * i, np.uint8))
    w.release()
    assert path.stat().st_size > 0
    return path


@pytest.fixture
def image(tmp_path) -> Path:
    import cv2

    path = tmp_path / "a.jpg"
    cv2.imwrite(str(path), np.full((64, 64, 3), 90, np.uint8))
    return path


def _unchanged(path: Path, before: bytes) -> bool:
    return path.read_bytes() == before


def test_detect_video_out_equal_to_source_is_refused(cli, video):
    before = video.read_bytes()
    code, out, err = cli("detect", "--source", video, "--out", video, "--cfg", CFG, "--weights", WEIGHTS,
                         "--no-show")
    assert code == 2 and "is also an input" in err and _unchanged(video, before)


def test_detect_image_out_equal_to_input_is_refused(cli, image, tmp_path):
    before = image.read_bytes()
    code, out, err = cli("detect", image, "--out", image, "--cfg", CFG, "--weights", WEIGHTS)
    assert code == 2 and "is also an input" in err and _unchanged(image, before)
    # many images into their own folder: a.jpg would be written over itself
    other = tmp_path / "b.png"
    other.write_bytes(image.read_bytes())
    code, out, err = cli("detect", image, other, "--out", tmp_path, "--cfg", CFG, "--weights", WEIGHTS)
    assert code == 2 and "a.jpg" in err and _unchanged(image, before)


def test_detect_out_equal_to_cfg_or_weights_is_refused(cli, image, tmp_path):
    w = tmp_path / "w.weights"
    w.write_bytes(WEIGHTS.read_bytes())
    code, out, err = cli("detect", image, "--out", w, "--cfg", CFG, "--weights", w)
    assert code == 2 and "is also an input" in err and w.read_bytes() == WEIGHTS.read_bytes()


def test_export_and_partial_refuse_to_write_over_their_weights(cli, tmp_path):
    w = tmp_path / "w.weights"
    w.write_bytes(WEIGHTS.read_bytes())
    for args in (("export", "onnx", CFG, w, w, "--no-check"), ("partial", CFG, w, w, "2")):
        code, out, err = cli(*args)
        assert code == 2 and "is also an input" in err, args
    assert w.read_bytes() == WEIGHTS.read_bytes()


def test_valid_and_data_stats_refuse_their_list(cli, tmp_path):
    from tests.eval.netdata import make_valid_set

    s = make_valid_set(tmp_path / "set")
    before = s["list"].read_bytes()
    code, out, err = cli("valid", s["data"], s["cfg"], s["weights"], "--out", s["list"], "--workers", "0")
    assert code == 2 and "is also an input" in err
    code, out, err = cli("data", "stats", s["list"], "--out", s["list"])
    assert code == 2 and "is also an input" in err
    code, out, err = cli("map", s["data"], s["cfg"], s["weights"], "--out", s["list"], "--workers", "0")
    assert code == 2 and "is also an input" in err
    assert s["list"].read_bytes() == before


def test_video_out_that_cannot_be_written_is_one_line(cli, video, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = cli("detect", "--source", video, "--out", blocker / "out.avi", "--cfg", CFG, "--weights",
                         WEIGHTS, "--no-show")
    assert code == 2 and "cannot write in" in err and "\n" not in err.strip()


def test_refuse_overwrite_sees_through_links_and_relative_paths(tmp_path, monkeypatch):
    f = tmp_path / "in.txt"
    f.write_text("x")
    link = tmp_path / "link.txt"
    link.symlink_to(f)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError):
        refuse_overwrite(Path("in.txt"), [f])
    with pytest.raises(UsageError):
        refuse_overwrite(link, [f])
    refuse_overwrite(tmp_path / "out.txt", [f, None, "-"])
    refuse_overwrite(None, [f])


@pytest.mark.parametrize("kind", ["garbage", "empty", "folder", "missing", "truncated"])
def test_bad_videos_are_one_line_or_the_frames_there_are(cli, video, tmp_path, kind):
    src = tmp_path / f"{kind}.avi"
    if kind == "garbage":
        src.write_bytes(bytes(range(256)) * 20)
    elif kind == "empty":
        src.write_bytes(b"")
    elif kind == "folder":
        src.mkdir()
    elif kind == "truncated":
        raw = video.read_bytes()
        src.write_bytes(raw[: len(raw) * 2 // 3])
    code, out, err = cli("detect", "--source", src, "--out", tmp_path / "o.avi", "--cfg", CFG, "--weights",
                         WEIGHTS, "--no-show")
    assert code in (0, 2), (code, out, err)
    if code == 2:
        assert str(src.name) in err and "Traceback" not in err


def test_wordtree_build_never_writes_over_its_lists_even_with_force(cli, tmp_path):
    lst = tmp_path / "mine.labels"
    lst.write_text("n02084071\n")
    before = lst.read_bytes()
    code, out, err = cli("wordtree", "build", "--order", lst, "-o", tmp_path / "mine", "--force")
    if "WordNet" in err and "is also an input" not in err:
        pytest.skip("no WordNet here")
    assert code == 2 and "is also an input" in err and lst.read_bytes() == before
