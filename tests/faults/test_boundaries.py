"""Issue 21's reproductions as regressions: files from outside cannot make darkpy write outside its
output folder, crash with a traceback, or mean something other than what Darknet reads."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from darkpy.errors import CfgError, DarkpyError, DataError, UsageError, WeightsError
from darkpy.fileio import inside

REPO = Path(__file__).resolve().parents[2]
DEMO_CFG = REPO / "cfg" / "demo.cfg"
DEMO_WEIGHTS = REPO / "data" / "demo" / "demo.weights"
DEMO_NAMES = REPO / "data" / "demo" / "demo.names"
DOG = REPO / "data" / "dog.jpg"
ENGINES = ("numpy", "torch")

# one entry per way out of a folder, for every source that becomes a path
ESCAPES = ["../../../../tmp/darkpy-escape", "/tmp/darkpy-escape", "sq/uare", "a\x00b", "..", "", "a\\b",
           "x/../../y"]


def _files_outside(root: Path, before: set[str]) -> set[str]:
    return {str(p) for p in root.rglob("*")} - before


# -- 1. paths built from file contents ----------------------------------------------------------------

@pytest.mark.parametrize("name", ESCAPES)
def test_inside_refuses_every_escape(tmp_path, name):
    with pytest.raises(DataError) as err:
        inside(tmp_path / "out", name, what="class 0 name", file="x.names", line=3)
    text = str(err.value)
    assert "\n" not in text and text.startswith("x.names:3: class 0 name") and "outside" in text


def test_inside_accepts_plain_names_and_subfolders_when_asked(tmp_path):
    assert inside(tmp_path, "dog", what="n") == tmp_path / "dog"
    assert inside(tmp_path, "train2017/0001.jpg", what="n", subfolders=True) == tmp_path / "train2017/0001.jpg"
    with pytest.raises(DataError, match="separator"):
        inside(tmp_path, "train2017/0001.jpg", what="n")


def test_inside_refuses_a_link_out_of_the_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(tmp_path)
    with pytest.raises(DataError, match="link"):
        inside(tmp_path / "out", "sub/x.txt", what="n", subfolders=True)


@pytest.fixture
def demo_set(tmp_path):
    """A one-image valid set for the demo model, with its own names file to tamper with."""
    import cv2

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.full((48, 64, 3), 120, np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.3\n")
    (tmp_path / "valid.txt").write_text(f"{tmp_path / 'images' / 'a.png'}\n")
    names = tmp_path / "set.names"
    names.write_text(DEMO_NAMES.read_text())
    data = tmp_path / "set.data"
    data.write_text(f"classes = 3\nnames = {names}\nvalid = {tmp_path / 'valid.txt'}\n")
    return tmp_path, data, names


@pytest.mark.parametrize("command", ["valid", "map"])
@pytest.mark.parametrize("bad", ["../../../../tmp/darkpy-h21-escape", "sq/uare", "/tmp/darkpy-h21-abs"])
def test_class_names_never_become_paths_outside_the_results(cli, demo_set, command, bad):
    root, data, names = demo_set
    names.write_text(f"circle\n{bad}\ntriangle\n")
    before = {str(p) for p in root.parent.rglob("*")}
    out = root / "res"
    code, _, err = cli(command, data, DEMO_CFG, DEMO_WEIGHTS, "--out", out, "--workers", "0")
    assert code == 2 and "class 1 name" in err and "\n" not in err.strip()
    assert not Path("/tmp/darkpy-h21-escape.txt").exists() and not Path("/tmp/darkpy-h21-abs.txt").exists()
    assert not (out / "comp4_det_test_sq").exists()
    assert _files_outside(root.parent, before) <= {str(out)}  # at most the (empty) results folder


def test_a_names_line_with_nul_is_refused(cli, demo_set):
    root, data, names = demo_set
    names.write_bytes(b"circle\nsq\x00uare\ntriangle\n")
    code, _, err = cli("valid", data, DEMO_CFG, DEMO_WEIGHTS, "--out", root / "res", "--workers", "0")
    assert code == 2 and "control character" in err


def _coco(tmp_path: Path, file_name: str) -> tuple[Path, Path]:
    import cv2

    images = tmp_path / "imgs"
    images.mkdir(exist_ok=True)
    cv2.imwrite(str(images / "ok.jpg"), np.zeros((8, 8, 3), np.uint8))
    doc = {"images": [{"id": 1, "file_name": "ok.jpg", "width": 8, "height": 8},
                      {"id": 2, "file_name": file_name, "width": 8, "height": 8}],
           "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 4, 4]}],
           "categories": [{"id": 1, "name": "thing"}]}
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps(doc))
    return ann, images


@pytest.mark.parametrize("file_name", ["../../../../victim/v.jpg", "/tmp/darkpy-h21-victim/v.jpg",
                                       "a\x00b.jpg", "sub/../../x.jpg"])
def test_coco_file_name_stays_in_the_output(cli, tmp_path, file_name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "v.txt").write_text("keep me\n")
    ann, images = _coco(tmp_path, file_name)
    before = {str(p) for p in tmp_path.rglob("*")}
    code, _, err = cli("data", "coco", ann, "--images", images, "--out", tmp_path / "out")
    assert code == 2 and "file_name" in err and "outside" in err
    assert (victim / "v.txt").read_text() == "keep me\n"
    assert _files_outside(tmp_path, before) == set()


def test_coco_file_name_in_a_subfolder_is_fine(cli, tmp_path):
    import cv2

    ann, images = _coco(tmp_path, "sub/b.jpg")
    (images / "sub").mkdir()
    cv2.imwrite(str(images / "sub" / "b.jpg"), np.zeros((8, 8, 3), np.uint8))
    code, _, err = cli("data", "coco", ann, "--images", images, "--out", tmp_path / "out", "--split", "s")
    assert code == 0, err
    assert (tmp_path / "out" / "labels" / "s" / "sub" / "b.txt").read_text().startswith("0 ")


@pytest.mark.parametrize("image_id", ["../../../escape", "/tmp/abs", "a/b"])
def test_voc_image_ids_stay_in_the_output(tmp_path, image_id):
    from darkpy.data.voc import read_set

    sets = tmp_path / "VOC2007" / "ImageSets" / "Main"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text(f"000001\n{image_id}\n")
    with pytest.raises(DataError, match="image id"):
        read_set(tmp_path, "2007", "train")


def test_detect_output_names_stay_in_the_output_folder(tmp_path):
    from darkpy.cli.commands.detect import _out_path

    out = tmp_path / "o"
    assert _out_path(out, "/x/y/dog.png", True) == out / "dog.jpg"
    assert _out_path(out, "/x/../..", True).parent == out   # the stem of '..' is a plain (odd) name
    with pytest.raises(DataError, match="control character"):
        _out_path(out, "/x/a\x01b.png", True)


# -- 2. downloads ----------------------------------------------------------------------------------

@pytest.fixture
def serve():
    """A local HTTP server for one body (no network): yields a function body -> URL; counts bytes sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"body": b"", "sent": 0, "length": True}

    class One(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = state["body"]
            self.send_response(200)
            if state["length"]:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 1 << 16):
                    self.wfile.write(body[i:i + 1 << 16])
                    state["sent"] += len(body[i:i + 1 << 16])
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), One)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def url(body: bytes, length: bool = True) -> str:
        state["body"], state["sent"], state["length"] = body, 0, length
        return f"http://127.0.0.1:{httpd.server_address[1]}/tiny.weights"

    url.state = state
    yield url
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tiny_bytes(tmp_path_factory) -> bytes:
    from darkpy.net.model import load_network
    from darkpy.net.published import find_published

    path = tmp_path_factory.mktemp("w") / "tiny.weights"
    load_network(find_published("tiny").cfg_path(), device="cpu", seed=1).save_weights(path)
    return path.read_bytes()


def test_a_planted_part_symlink_is_not_followed(serve, tmp_path, tiny_bytes):
    from darkpy.net.download import download
    from darkpy.net.published import find_published

    target = tmp_path / "bashrc"
    target.write_text("precious\n")
    dest = tmp_path / "w"
    dest.mkdir()
    (dest / "tiny.weights.part").symlink_to(target)
    with pytest.raises(WeightsError, match="not a regular file"):
        download(find_published("tiny"), dest, url=serve(tiny_bytes), progress=False)
    assert target.read_text() == "precious\n" and not (dest / "tiny.weights").exists()


def test_a_planted_part_hard_link_is_not_appended_to(serve, tmp_path, tiny_bytes):
    from darkpy.net.download import download
    from darkpy.net.published import find_published

    target = tmp_path / "victim"
    target.write_bytes(b"precious")
    dest = tmp_path / "w"
    dest.mkdir()
    os.link(target, dest / "tiny.weights.part")
    with pytest.raises(WeightsError, match="hard link"):
        download(find_published("tiny"), dest, url=serve(tiny_bytes), progress=False)
    assert target.read_bytes() == b"precious"


@pytest.mark.parametrize("length", [True, False])
def test_a_huge_body_is_capped_at_the_expected_size(serve, tmp_path, tiny_bytes, length):
    from darkpy.net.download import download
    from darkpy.net.published import find_published

    body = tiny_bytes * 12  # ~50 MB for a 4 MB file
    with pytest.raises(WeightsError, match="do not fit cfg/tiny.cfg"):
        download(find_published("tiny"), tmp_path, url=serve(body, length), progress=False)
    assert not (tmp_path / "tiny.weights").exists() and not (tmp_path / "tiny.weights.part").exists()
    assert serve.state["sent"] < 4 * len(tiny_bytes)  # stopped early, not written in full first


def test_nan_floats_and_wrong_digest_are_refused(serve, tmp_path, tiny_bytes):
    import hashlib

    from darkpy.net.download import download
    from darkpy.net.published import find_published

    floats = np.frombuffer(tiny_bytes[20:], "<f4").copy()
    floats[7] = np.nan
    with pytest.raises(WeightsError, match="NaN or infinite"):
        download(find_published("tiny"), tmp_path, url=serve(tiny_bytes[:20] + floats.tobytes()), progress=False)
    assert not (tmp_path / "tiny.weights").exists()
    with pytest.raises(WeightsError, match="SHA-256"):
        download(find_published("tiny"), tmp_path, url=serve(tiny_bytes), progress=False, sha256="0" * 64)
    good = hashlib.sha256(tiny_bytes).hexdigest()
    done = download(find_published("tiny"), tmp_path, url=serve(tiny_bytes), progress=False, sha256=good)
    assert done.path.read_bytes() == tiny_bytes


def test_cli_sha256_must_be_hex(cli):
    code, _, err = cli("weights", "download", "tiny", "--sha256", "xyz")
    assert code == 2 and "64 hexadecimal" in err


def test_catalogue_digests_are_well_formed():
    from darkpy.net.published import CATALOG

    for p in CATALOG:
        assert p.sha256 is None or (len(p.sha256) == 64 and int(p.sha256, 16) >= 0)


# -- 3. non-regular files --------------------------------------------------------------------------

def _darkpy(*args, timeout=60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "darkpy", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize("role", ["weights", "cfg", "data", "list", "names"])
def test_a_fifo_is_refused_at_once(tmp_path, role):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = tmp_path / "d.data"
    if role == "weights":
        args = ["detect", "--cfg", DEMO_CFG, "--weights", fifo, DOG, "--no-save"]
    elif role == "cfg":
        args = ["summary", fifo]
    elif role == "data":
        args = ["data", "check", fifo]
    else:
        data.write_text(f"classes=3\ntrain={fifo}\nvalid={fifo}\nnames={fifo if role == 'names' else DEMO_NAMES}\n")
        args = ["data", "check", data] if role == "list" else ["valid", data, DEMO_CFG, DEMO_WEIGHTS]
    start = time.monotonic()
    r = _darkpy(*args, timeout=60)
    assert time.monotonic() - start < 30
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [l for l in r.stderr.splitlines() if "error:" in l]  # (notes such as "class names from" may come first)
    assert len(errors) == 1 and "named pipe" in errors[0], r.stderr


def test_folders_and_devices_are_refused(cli, tmp_path):
    from darkpy.fileio import open_regular

    with pytest.raises(WeightsError, match="is a folder"):
        open_regular(tmp_path, "weights", WeightsError)
    with pytest.raises(DataError, match="is a device"):
        open_regular("/dev/zero", "list")
    code, _, err = cli("summary", tmp_path)
    assert code == 2 and "folder" in err


def test_a_fifo_label_file_is_refused(tmp_path):
    from darkpy.formats.labels import read_label_file

    os.mkfifo(tmp_path / "a.txt")
    with pytest.raises(DataError, match="named pipe"):
        read_label_file(tmp_path / "a.txt")


# -- 4. tracebacks that became lines or answers ----------------------------------------------------

@pytest.fixture
def wide_set(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "wide.png"), np.full((2, 5000, 3), 200, np.uint8))
    (tmp_path / "labels" / "wide.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (tmp_path / "valid.txt").write_text(f"{tmp_path / 'images' / 'wide.png'}\n")
    data = tmp_path / "w.data"
    data.write_text(f"classes=3\nnames={DEMO_NAMES}\nvalid={tmp_path / 'valid.txt'}\n")
    return tmp_path, data


@pytest.mark.parametrize("engine", ENGINES)
def test_a_5000x2_image_is_detected(cli, wide_set, engine):
    root, _ = wide_set
    code, out, err = cli("detect", "--engine", engine, "--cfg", DEMO_CFG, "--weights", DEMO_WEIGHTS,
                         root / "images" / "wide.png", "--json", "--no-save")
    assert code == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["width"] == 5000 and result["height"] == 2
    assert all(np.isfinite(list(d["box"].values()) if isinstance(d.get("box"), dict) else 0).all()
               for d in result["detections"])


@pytest.mark.parametrize("command", ["valid", "map"])
def test_a_5000x2_image_in_valid_and_map(cli, wide_set, command):
    root, data = wide_set
    code, _, err = cli(command, data, DEMO_CFG, DEMO_WEIGHTS, "--out", root / command, "--workers", "0")
    assert code == 0, err


def test_letterbox_sides_are_at_least_one_pixel():
    from darkpy.formats.image import letterbox_size

    assert letterbox_size(5000, 2, 96, 96) == (96, 1)
    assert letterbox_size(2, 5000, 96, 96) == (1, 96)
    assert letterbox_size(500, 375, 416, 416) == (416, 312)  # Darknet's own numbers elsewhere


@pytest.mark.parametrize("engine", ENGINES)
def test_a_width_1_network_runs(cli, tmp_path, engine):
    cfg = tmp_path / "w1.cfg"
    cfg.write_text(DEMO_CFG.read_text().replace("width=96", "width=1"))
    code, _, err = cli("detect", "--engine", engine, "--cfg", cfg, "--weights", DEMO_WEIGHTS, DOG, "--no-save")
    assert code == 0, err


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("channels", [1, 4, 1000])
def test_detection_refuses_other_channel_counts_with_file_and_line(cli, tmp_path, engine, channels):
    cfg = tmp_path / "c.cfg"
    cfg.write_text(DEMO_CFG.read_text().replace("channels=3", f"channels={channels}"))
    line = 1 + DEMO_CFG.read_text().splitlines().index("channels=3")
    for weights in (["--random-weights"], ["--weights", DEMO_WEIGHTS]):  # before the weights' size check
        code, _, err = cli("detect", "--engine", engine, "--cfg", cfg, *weights, DOG, "--no-save")
        assert code == 2 and f"c.cfg:{line}:" in err and "3-channel" in err, err


def test_the_numpy_network_refuses_other_channel_counts(tmp_path):
    from darkpy.net.numpy_forward import NumpyNetwork

    cfg = tmp_path / "c.cfg"
    cfg.write_text(DEMO_CFG.read_text().replace("channels=3", "channels=1"))
    with pytest.raises(CfgError, match="3-channel"):
        NumpyNetwork.build(cfg)


def test_detection_training_refuses_one_channel(tmp_path):
    from darkpy.train.detection.task import DetectionTask
    from darkpy.net.model import load_network

    cfg = tmp_path / "c.cfg"
    cfg.write_text(DEMO_CFG.read_text().replace("channels=3", "channels=1"))
    with pytest.raises(CfgError, match="3-channel"):
        DetectionTask(load_network(cfg, device="cpu"), [str(DOG)])


CLASSIFIER = """[net]
batch=2
width=16
height=16
channels={c}
[convolutional]
filters=4
size=3
stride=2
pad=1
activation=leaky
[avgpool]
[softmax]
"""


def test_a_one_channel_classifier_reads_grayscale(tmp_path):
    from darkpy.classify.image import to_chw
    from darkpy.classify.predict import predict_images
    from darkpy.net.model import load_network

    cfg = tmp_path / "g.cfg"
    cfg.write_text(CLASSIFIER.format(c=1))
    net = load_network(cfg, device="cpu")
    (pred,) = predict_images(net, [DOG], top=2)
    assert len(pred.indexes) == 2 and all(np.isfinite(pred.probs))
    rgb = np.zeros((1, 1, 3), np.float32)
    rgb[0, 0] = (1.0, 0.0, 0.0)
    assert to_chw(rgb, 1).shape == (1, 1, 1) and to_chw(rgb, 1)[0, 0, 0] == pytest.approx(76 / 255)


def test_a_four_channel_classifier_is_one_line(tmp_path):
    from darkpy.classify.predict import predict_images
    from darkpy.net.model import load_network

    cfg = tmp_path / "g.cfg"
    cfg.write_text(CLASSIFIER.format(c=4))
    with pytest.raises(CfgError, match=r"g.cfg:5: \[net\]: channels=4"):
        predict_images(load_network(cfg, device="cpu"), [DOG], top=1)


@pytest.mark.parametrize("value", ["-1", "0", "\u0663", "1_0", "3x"])
def test_data_values_are_range_checked(cli, tmp_path, value):
    data = tmp_path / "d.data"
    data.write_text(f"classes = {value}\ntrain = {tmp_path / 'none.txt'}\n")
    code, _, err = cli("data", "check", data)
    assert code == 2 and "d.data:1" in err and "classes" in err, err


def test_data_values_are_checked_by_training_and_evaluation_too(cli, demo_set):
    root, data, _ = demo_set
    data.write_text(data.read_text().replace("classes = 3", "classes = -1") + f"train = {root / 'valid.txt'}\n")
    code, _, err = cli("train", DEMO_CFG, "--data", data, "--max-batches", "1", "--backup", root / "bk")
    assert code == 2 and "'classes' must be at least 1" in err, err
    from darkpy.formats.datafile import read_data_config

    with pytest.raises(DataError, match="set.data:1: 'classes' must be at least 1"):
        read_data_config(data)


def test_memory_is_estimated_for_the_whole_batch(cli, demo_set, tmp_path):
    root, data, _ = demo_set
    data.write_text(data.read_text() + f"train = {root / 'valid.txt'}\n")
    cfg = tmp_path / "b.cfg"
    cfg.write_text(DEMO_CFG.read_text().replace("batch=32", "batch=100000000"))
    code, _, err = cli("train", cfg, "--data", data, "--max-batches", "1", "--backup", root / "bk",
                       "--workers", "0")
    assert code == 2 and "mini-batch of 100,000,000 images" in err and "b.cfg:" in err


# -- 5. reading as Darknet reads ---------------------------------------------------------------------

def test_a_form_feed_does_not_end_a_cfg_line():
    from darkpy.net.model import parse_network

    text = DEMO_CFG.read_text().replace("[net]\n", "[net]\n#note\x0cwidth=64\n", 1)
    net = parse_network(text)
    assert (net.net.width, net.net.height) == (96, 96)
    for sep in ("\x85", "\u2028", "\x0b", "\x1c"):
        assert parse_network(DEMO_CFG.read_text().replace("[net]\n", f"[net]\n#n{sep}width=64\n", 1)).net.width == 96


def test_line_numbers_after_odd_characters_stay_right(tmp_path):
    from darkpy.net.cfg import parse_cfg_text

    secs = parse_cfg_text("[net]\n#a\x0cb\u2028c\x85d\nwidth=1\n[convolutional]\nfilters=x\n")
    assert secs[1].options["filters"].line == 5 and secs[0].options["width"].line == 3


def test_crlf_is_tolerated():
    from darkpy.net.model import parse_network

    net = parse_network(DEMO_CFG.read_text().replace("\n", "\r\n"))
    assert (net.net.width, net.net.height, net.net.channels) == (96, 96, 3)


@pytest.mark.parametrize("value", ["\u00a0125", "1_25", "\u0661\u0662\u0665", "\uff11\uff12\uff15", "125\u00a0"])
def test_cfg_numbers_are_ascii_as_atoi_reads_them(value):
    from darkpy.net.model import parse_network

    text = DEMO_CFG.read_text().replace("filters=8", f"filters={value}", 1)
    with pytest.raises(CfgError, match="'filters' must be an integer"):
        parse_network(text)


def test_c_whitespace_around_a_number_is_what_atoi_skips():
    from darkpy.net.cfgvalues import parse_float, parse_int

    assert parse_int("\x0c8") == 8 and parse_float("\x0b.5") == 0.5
    with pytest.raises(ValueError):
        parse_int("\u00a08")


def test_nonpositive_anchors_are_warned_with_the_line(tmp_path):
    from darkpy.net.model import parse_network

    text = DEMO_CFG.read_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("anchors"))
    cfg = tmp_path / "a.cfg"
    cfg.write_text("\n".join(l if not l.startswith("anchors") else "anchors=0,1, 1,1, -1,1, 2,2, 3,3"
                             for l in text.splitlines()) + "\n")
    with pytest.warns(UserWarning, match=rf"a.cfg:{line}: layer \d+ \[region\]: anchors must be above 0"):
        parse_network(cfg)


def _weights_with(tmp_path: Path, seen: int | None = None, nan_at: int | None = None) -> Path:
    raw = DEMO_WEIGHTS.read_bytes()
    head, body = raw[:20], np.frombuffer(raw[20:], "<f4").copy()
    if seen is not None:
        head = head[:12] + struct.pack("<q", seen)
    if nan_at is not None:
        body[nan_at] = np.nan
    path = tmp_path / "w.weights"
    path.write_bytes(head + body.tobytes())
    return path


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seen", [-1, 2 ** 53 + 1, 2 ** 63 - 1])
def test_seen_out_of_range_is_refused_by_both_engines(cli, tmp_path, engine, seen):
    w = _weights_with(tmp_path, seen=seen)
    code, _, err = cli("detect", "--engine", engine, "--cfg", DEMO_CFG, "--weights", w, DOG, "--no-save")
    assert code == 2 and f"seen={seen} is out of range" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_weights_warn_naming_the_layer_and_strict_refuses(tmp_path, engine):
    w = _weights_with(tmp_path, nan_at=3)
    r = _darkpy("detect", "--engine", engine, "--cfg", DEMO_CFG, "--weights", w, DOG, "--no-save")
    assert r.returncode == 0 and "layer 0 [convolutional] has 1 NaN or infinite weights" in r.stderr, r.stderr
    r = _darkpy("--strict", "detect", "--engine", engine, "--cfg", DEMO_CFG, "--weights", w, DOG, "--no-save")
    assert r.returncode == 2 and "refused: --strict" in r.stderr and "Traceback" not in r.stderr


def test_nan_weights_in_python(tmp_path):
    from darkpy.net.model import parse_network

    w = _weights_with(tmp_path, nan_at=3)
    net = parse_network(DEMO_CFG)
    with pytest.warns(UserWarning, match="layer 0"):
        net.load_weights(w)
    with pytest.raises(WeightsError, match="layer 0"):
        from darkpy.net.weights import load_weights

        load_weights(parse_network(DEMO_CFG).blocks, w, strict=True)


@pytest.mark.parametrize("field,kind", [("\u0660.5", "bad-label"), ("0_1", "bad-label"), ("0_2", "bad-label"),
                                        ("\uff10.5", "bad-label"), ("0.5", None)])
def test_label_numbers_in_c_grammar(field, kind):
    from darkpy.formats.labels import parse_label_text

    labels = parse_label_text(f"0 {field} 0.5 0.1 0.1\n", "a.txt", classes=3)
    if kind is None:
        assert not labels.problems and labels.boxes.shape == (1, 5)
    else:
        assert labels.problems[0].kind == kind and "not a number" in labels.problems[0].detail


def test_data_check_flags_the_arabic_indic_label(cli, tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "labels" / "a.txt").write_text("0 \u0660.5 0.5 0.2 0.2\n")
    (tmp_path / "train.txt").write_text(f"{tmp_path / 'images' / 'a.jpg'}\n")
    data = tmp_path / "d.data"
    data.write_text(f"classes=3\ntrain={tmp_path / 'train.txt'}\n")
    code, out, err = cli("data", "check", data)
    assert code != 0 and "a.txt: line 1: not a number" in out + err


def test_label_fields_split_at_ascii_whitespace_only():
    from darkpy.formats.labels import parse_label_text

    ok = parse_label_text("0\t0.5 0.5\x0b0.1 0.1\r\n", "a.txt", classes=3)
    assert not ok.problems and ok.boxes.shape == (1, 5)
    odd = parse_label_text("0\u00a00.5 0.5 0.1 0.1\n", "a.txt", classes=3)
    assert odd.problems and odd.boxes.shape == (0, 5)


def test_the_saved_line_names_the_fallback_file(tmp_path, monkeypatch, tiny_cfg):
    import errno

    from darkpy.net.model import load_network
    from darkpy.train.engine import Trainer
    from tests.train.toy import ToyTask

    out = tmp_path / "b"
    tr = Trainer(load_network(tiny_cfg(tmp_path, "toy"), device="cpu", seed=0), ToyTask(), name="toy", backup_dir=out,
                 device="cpu", max_batches=2, seed=3, log_every=0, chart_every=0)
    tr.say = lambda s: None
    monkeypatch.setattr(tr, "rescue_dir", lambda: tmp_path / "rescue")
    real = tr.net.save_weights

    def save(path, upto=None):
        if str(path).startswith(str(out)) and "final" in Path(path).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, upto)

    tr.net.save_weights = save
    tr.run()
    assert tr.final_written == tmp_path / "rescue" / "toy_final.weights" and tr.final_written.exists()


def test_the_closing_line_uses_the_written_file(tmp_path):
    from types import SimpleNamespace

    from darkpy.train.detection.train import saved_line

    done = SimpleNamespace(iteration=2, data_wait_share=0.0, backup_dir=tmp_path / "b", name="toy",
                           final_written=tmp_path / "rescue" / "toy_final.weights")
    assert saved_line(done).startswith(f"Saved {tmp_path / 'rescue' / 'toy_final.weights'} after 2 batches")
    done.final_written = None
    assert saved_line(done).startswith("No final weights written")


# -- 6. one training per backup folder -----------------------------------------------------------------

def test_a_second_training_into_a_busy_folder_is_refused(tmp_path, tiny_cfg):
    from darkpy.net.model import load_network
    from darkpy.train import backup as bk
    from darkpy.train.engine import Trainer
    from tests.train.toy import ToyTask

    out = tmp_path / "b"
    out.mkdir()
    held = bk.FolderLock(out).acquire()
    try:
        tr = Trainer(load_network(tiny_cfg(tmp_path, "toy"), device="cpu", seed=0), ToyTask(), name="toy", backup_dir=out,
                     device="cpu", max_batches=2, seed=3, log_every=0, chart_every=0)
        tr.say = lambda s: None
        with pytest.raises(UsageError) as err:
            tr.run()
        assert f"pid {os.getpid()}" in str(err.value) and "started" in str(err.value)
        assert not (out / "toy_final.weights").exists()
    finally:
        held.release()
    tr.run()  # free again
    assert (out / "toy_final.weights").exists()


def test_a_busy_folder_from_another_process_and_a_stale_lock(tmp_path):
    from darkpy.train import backup as bk

    out = tmp_path / "b"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from darkpy.train.backup import FolderLock; "
                               f"FolderLock({str(out)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=rf"in use by a training run \(pid {holder.pid} on "):
            bk.FolderLock(out).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the killed holder's lock file is still there, with its text: it does not block
    assert (out / bk.LOCK_NAME).read_text().startswith(f"pid {holder.pid}")
    lock = bk.FolderLock(out).acquire()
    assert (out / bk.LOCK_NAME).read_text().startswith(f"pid {os.getpid()}")
    lock.release()


def test_every_error_here_is_one_line():
    for exc in (DataError("x", file="f", line=1), CfgError("y"), WeightsError("z", file="w")):
        assert isinstance(exc, DarkpyError) and "\n" not in str(exc)
