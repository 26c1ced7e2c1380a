"""One image decision for every command: a truncated JPEG is skipped with one line naming it.

`cv2.imread` decodes a truncated JPEG into a half-grey picture (after libjpeg prints "Premature
end of JPEG file"); `cv2.imdecode`, used by `darkpy.formats.image.read_bgr`, refuses it. Before
one reader, `data check` and training accepted such a file that `detect` and `map` refused."""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.errors import DataError


def _truncated_jpeg(path):
    import cv2

    img = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    data = buf.tobytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _good_png(path, colour=(0, 255, 255)):
    import cv2

    img = np.zeros((128, 128, 3), np.uint8)
    img[:64, :64] = colour
    cv2.imwrite(str(path), img)
    return path


def test_reader_refuses_a_truncated_jpeg_quietly(tmp_path, capfd):
    from darkpy.classify.image import load_rgb
    from darkpy.formats.image import read_bgr

    bad = _truncated_jpeg(tmp_path / "cut.jpg")
    with pytest.raises(DataError, match=r"cut\.jpg: truncated JPEG"):
        read_bgr(bad)
    with pytest.raises(DataError, match=r"cut\.jpg: truncated JPEG"):
        load_rgb(bad)                      # the classifier's reader is the same one
    err = capfd.readouterr().err
    assert "WARN" not in err and "Premature" not in err, err


def test_data_check_decode_reports_it(tmp_path):
    from darkpy.data.check import check

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    bad = _truncated_jpeg(tmp_path / "images" / "cut.jpg")
    (tmp_path / "labels" / "cut.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    lst = tmp_path / "list.txt"
    lst.write_text(f"{bad}\n")
    assert check(lst, classes=1).ok              # the header alone is intact
    report = check(lst, classes=1, decode=True)
    assert [(p.kind, p.file) for p in report.errors] == [("unreadable-image", str(bad))]
    assert "truncated JPEG" in report.errors[0].detail


def test_training_loader_skips_it_with_one_line(tmp_path):
    from darkpy.train.detection.loader import DetectionSource, Request

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    bad = _truncated_jpeg(tmp_path / "images" / "cut.jpg")
    good = _good_png(tmp_path / "images" / "ok.png")
    for p in (bad, good):
        (tmp_path / "labels" / (p.stem + ".txt")).write_text("0 0.25 0.25 0.5 0.5\n")
    source = DetectionSource([str(bad), str(good)], 1, 5, 0.0, 0.0, 1.0, 1.0)
    messages = []
    for it in range(6):
        images, truth, warnings = source.load(Request(it, 0, 2, 32, 32))
        messages += [text for _, text in warnings]
        assert truth[:, 0, 4].tolist() == [0, 0] and truth[:, 0, 2].min() > 0
    assert messages and all(f"{bad}: truncated JPEG" in m and m.endswith("skipped") for m in messages)


def test_detect_and_map_skip_it_too(tmp_path):
    import darkpy
    from darkpy.detect.batches import image_batches
    from darkpy.eval.groundtruth import gt_from_labels
    from darkpy.eval.run import run_detector
    from tests.eval.netdata import make_valid_set

    vset = make_valid_set(tmp_path / "v")
    bad = _truncated_jpeg(vset["root"] / "images" / "cut.jpg")
    (vset["root"] / "labels" / "cut.txt").write_text("0 0.25 0.25 0.5 0.5\n")
    entries = vset["list"].read_text().split() + [str(bad)]
    vset["list"].write_text("\n".join(entries) + "\n")
    errors = []
    seen = [item.entry for good, _ in image_batches(entries, 64, 64, True, batch=2, on_error=errors.append)
            for item in good]
    assert str(bad) not in seen and [e.entry for e in errors] == [str(bad)]
    assert "truncated JPEG" in str(errors[0].error)
    net = darkpy.load_network(vset["cfg"], vset["weights"], device="cpu")
    skipped = []
    res = run_detector(net, entries, batch=2, on_skip=lambda e, why: skipped.append((e, why)))
    assert [e for e, _ in skipped] == [str(bad)] and str(bad) not in res.entries
    truth = gt_from_labels(vset["list"], ["a", "b"], sizes=res.sizes, entries=res.entries)
    assert "cut" not in truth.images and len(truth.images) == 4


def test_jpeg_with_missing_data_is_refused_and_harmless_warnings_are_silent(tmp_path, capfd):
    """OpenCV decodes a JPEG whose data is cut short but still ends with an end marker (grey
    where data is missing: libjpeg prints "premature end of data segment"), or whose data is
    garbled ("bad Huffman code"): refused like a truncated file. Extra bytes before a marker
    (common in real data sets) are harmless: decoded, and nothing printed."""
    import cv2

    from darkpy.formats.image import read_bgr

    img = (np.random.default_rng(1).random((128, 128, 3)) * 255).astype(np.uint8)
    good = cv2.imencode(".jpg", img)[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(good[: len(good) // 2] + b"\xff\xd9")
    garbled = bytearray(good)
    i = len(good) // 2
    garbled[i:i + 40] = b"\xff\x00" * 20
    garbled[i + 50:i + 52] = b"\xff\xd0"                      # a stray restart marker: bad Huffman code
    (tmp_path / "garbled.jpg").write_bytes(bytes(garbled))
    for name in ("cut.jpg", "garbled.jpg"):
        with pytest.raises(DataError, match=name + r": truncated or corrupt JPEG data \(libjpeg: Corrupt JPEG"):
            read_bgr(tmp_path / name)
    end = good.rfind(b"\xff\xd9")
    (tmp_path / "extra.jpg").write_bytes(good[:end] + b"\x00\x01\x02" + good[end:])
    assert read_bgr(tmp_path / "extra.jpg").shape == (128, 128, 3)
    err = capfd.readouterr().err
    assert "Corrupt JPEG" not in err and "premature" not in err, err
