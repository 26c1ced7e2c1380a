"""Darknet's own command lines (`detect CFG WEIGHTS IMAGE`, the `detector` family) and the rules that
keep `darkpy detect` from answering with a model the user did not name."""
from __future__ import annotations

import json

import pytest

from darkpy.cli.darknet import DETECTOR, translate
from darkpy.detect.inputs import DEMO_BANNER, resolve_detect_inputs, split_positionals
from darkpy.errors import UsageError
from tests.detnet import make_detector, make_image


@pytest.fixture
def model(tmp_path):
    cfg, weights, names = make_detector(tmp_path / "model")
    data = tmp_path / "model" / "det.data"
    data.write_text(f"classes = 1\nnames = {names}\n")
    return cfg, weights, names, data


def _json(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# -- resolution (library) -------------------------------------------------------------------

def test_positionals_are_told_apart_by_name():
    assert split_positionals(["cfg/yolov2-voc.cfg", "yolov2-voc.weights", "data/dog.jpg"]) == \
        (["cfg/yolov2-voc.cfg"], ["yolov2-voc.weights"], [], ["data/dog.jpg"])
    assert split_positionals(["a.data", "b.cfg", "darknet19_448.conv.23", "x.png", "y.png"]) == \
        (["b.cfg"], ["darknet19_448.conv.23"], ["a.data"], ["x.png", "y.png"])


def test_weights_after_a_cfg_need_no_suffix(tmp_path):
    w = tmp_path / "trained.bin"
    w.write_bytes(b"\0" * 20)
    cfgs, weights, _, images = split_positionals(["x.cfg", str(w), "a.jpg"])
    assert weights == [str(w)] and images == ["a.jpg"]
    d = tmp_path / "v.data"
    d.write_text("classes = 1\n")
    assert split_positionals([str(d), "x.cfg", str(w), "a.jpg"]) == (["x.cfg"], [str(w)], [str(d)], ["a.jpg"])
    assert split_positionals(["x.cfg", str(d), "y.weights", "a.jpg"]) == (["x.cfg"], ["y.weights"], [str(d)], ["a.jpg"])


def test_no_model_means_the_demo_with_a_banner():
    r = resolve_detect_inputs(["data/dog.jpg"])
    assert r.demo and r.banner == DEMO_BANNER and r.cfg.name == "demo.cfg" and r.names.name == "demo.names"
    assert "3 synthetic shapes" in r.banner and "docs/weights.md" in r.banner


def test_cfg_without_weights_names_both():
    with pytest.raises(UsageError, match="--cfg .*yolov2-voc.cfg given without --weights.*--random-weights"):
        resolve_detect_inputs(["data/dog.jpg"], cfg="cfg/yolov2-voc.cfg")
    with pytest.raises(UsageError, match="--weights .* without --cfg"):
        resolve_detect_inputs(["data/dog.jpg"], weights="x.weights")
    r = resolve_detect_inputs(["data/dog.jpg"], cfg="cfg/yolov2-voc.cfg", random_weights=True)
    assert r.weights is None and not r.demo and "random weights" in r.notes[0]


def test_twice_the_same_kind_is_an_error():
    with pytest.raises(UsageError, match="2 cfg files"):
        resolve_detect_inputs(["a.cfg", "b.cfg", "x.jpg"])
    with pytest.raises(UsageError, match="cfg given twice"):
        resolve_detect_inputs(["a.cfg", "w.weights", "x.jpg"], cfg="b.cfg")


def test_model_by_name_reports_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("DARKPY_WEIGHTS", str(tmp_path))
    with pytest.raises(UsageError, match=r"yolov2-voc.weights not found in .*darkpy weights download yolov2-voc"):
        resolve_detect_inputs(["data/dog.jpg"], model="yolov2-voc")
    with pytest.raises(UsageError, match="unknown model"):
        resolve_detect_inputs(["data/dog.jpg"], model="nope")
    (tmp_path / "yolov2-voc.weights").write_bytes(b"")
    r = resolve_detect_inputs(["data/dog.jpg"], model="yolov2-voc")
    assert r.cfg.name == "yolov2-voc.cfg" and r.weights == tmp_path / "yolov2-voc.weights"
    assert r.names.name == "voc.names"
    # --weights DIR: searched before $DARKPY_WEIGHTS (e.g. the folder given to `weights download -o`)
    other = tmp_path / "other"
    other.mkdir()
    (other / "yolov2-voc.weights").write_bytes(b"")
    r = resolve_detect_inputs(["data/dog.jpg"], model="yolov2-voc", weights=other)
    assert r.weights == other / "yolov2-voc.weights"
    with pytest.raises(UsageError, match="leave out --cfg/--weights"):
        resolve_detect_inputs(["data/dog.jpg"], model="yolov2-voc", cfg="x.cfg")


def test_a_published_cfg_brings_its_class_names(repo, tmp_path):
    r = resolve_detect_inputs([str(repo / "cfg" / "yolov2-voc.cfg"), "yolov2-voc.weights", "data/dog.jpg"])
    assert r.names == repo / "data" / "voc.names" and "voc.names" in r.notes[0]
    # a cfg of the same name with other classes gets no guessed names
    other = tmp_path / "yolov2-voc.cfg"
    other.write_text((repo / "cfg" / "yolov2-voc.cfg").read_text().replace("classes=20", "classes=3")
                     .replace("filters=125", "filters=40"))
    assert resolve_detect_inputs([str(other), "w.weights", "a.jpg"]).names is None
    assert resolve_detect_inputs([str(repo / "cfg" / "yolov2-voc.cfg"), "w.weights", "a.jpg"],
                                 names=tmp_path / "n.names").names == tmp_path / "n.names"


# -- argument translation (library) ------------------------------------------------------------

@pytest.mark.parametrize("sub,args,expected", [
    ("train", ["v.data", "y.cfg", "d.conv.23", "-gpus", "0,1", "-clear"],
     ["train", "y.cfg", "--data", "v.data", "--weights", "d.conv.23", "--gpus", "0,1", "--clear"]),
    ("train", ["v.data", "y.cfg"], ["train", "y.cfg", "--data", "v.data"]),
    ("test", ["v.data", "y.cfg", "y.weights", "dog.jpg", "-thresh", ".3", "-out", "pred"],
     ["detect", "dog.jpg", "--data", "v.data", "--cfg", "y.cfg", "--weights", "y.weights", "--thresh", ".3",
      "--out", "pred.jpg"]),
    ("valid", ["v.data", "y.cfg", "y.weights", "-out", "comp4_"],
     ["valid", "v.data", "y.cfg", "y.weights", "--prefix", "comp4_"]),
    ("recall", ["v.data", "y.cfg", "y.weights"], ["recall", "v.data", "y.cfg", "y.weights"]),
    ("map", ["v.data", "y.cfg", "y.weights", "-iou_thresh", "0.75"],
     ["map", "v.data", "y.cfg", "y.weights", "--iou-thresh", "0.75"]),
    ("demo", ["v.data", "y.cfg", "y.weights", "clip.mp4", "-dont_show"],
     ["detect", "--data", "v.data", "--cfg", "y.cfg", "--weights", "y.weights", "--source", "clip.mp4",
      "--no-show"]),
    ("demo", ["v.data", "y.cfg", "y.weights", "-c", "1"],
     ["detect", "--data", "v.data", "--cfg", "y.cfg", "--weights", "y.weights", "--source", "1"]),
    ("demo", ["v.data", "y.cfg", "y.weights"],
     ["detect", "--data", "v.data", "--cfg", "y.cfg", "--weights", "y.weights", "--source", "0"]),
    ("calc_anchors", ["v.data", "-num_of_clusters", "9", "-width", "416", "-height", "416"],
     ["kmeans", "--data", "v.data", "--k", "9", "--width", "416", "--height", "416"]),
])
def test_darknet_lines_become_darkpy_lines(sub, args, expected):
    assert translate(DETECTOR[sub], args, _arity(sub)) == expected


def _arity(sub):
    from darkpy.cli import load_commands
    from darkpy.cli.commands.detector import target_arity

    load_commands()
    return target_arity(DETECTOR[sub].command)


def test_darkpy_options_pass_through_with_their_values():
    got = translate(DETECTOR["test"], ["v.data", "y.cfg", "y.weights", "--size", "320", "dog.jpg", "--json"],
                    {"--size": 1, "--json": 0})
    assert got == ["detect", "dog.jpg", "--data", "v.data", "--cfg", "y.cfg", "--weights", "y.weights",
                   "--size", "320", "--json"]


def test_darknet_only_flags_are_dropped_with_a_note():
    notes = []
    got = translate(DETECTOR["test"], ["v.data", "y.cfg", "y.weights", "a.jpg", "-fullscreen"], _arity("test"),
                    notes.append)
    assert "-fullscreen" not in got and len(notes) == 1 and notes[0].startswith("-fullscreen ignored: ")


def test_missing_positionals_are_named():
    with pytest.raises(UsageError, match=r"detector valid DATA CFG WEIGHTS: missing WEIGHTS"):
        translate(DETECTOR["valid"], ["v.data", "y.cfg"], _arity("valid"))
    with pytest.raises(UsageError, match="unexpected"):
        translate(DETECTOR["recall"], ["v.data", "y.cfg", "y.weights", "extra"], _arity("recall"))


# -- the CLI ------------------------------------------------------------------------------------

def test_three_forms_give_the_same_boxes(cli, model, tmp_path):
    cfg, weights, names, data = model
    img = make_image(tmp_path / "a.png")
    runs = {
        "darknet detect": cli("detect", cfg, weights, img, "--names", names, "--json", "--no-save", "-thresh", ".5"),
        "detector test": cli("detector", "test", data, cfg, weights, img, "--json", "--no-save"),
        "darkpy": cli("detect", img, "--cfg", cfg, "--weights", weights, "--data", data, "--json", "--no-save"),
    }
    for name, (code, out, err) in runs.items():
        assert code == 0, (name, err)
        assert "bundled demo model" not in err
    dets = [_json(out)[0]["detections"] for _, out, _ in runs.values()]
    assert dets[0] and dets[0] == dets[1] == dets[2]
    assert dets[0][0]["class"] == "yellowish"


def test_detect_without_a_model_prints_the_banner(cli, repo, tmp_path):
    code, out, err = cli("detect", repo / "data" / "dog.jpg", "--no-save")
    assert code == 0
    assert "bundled demo model: 3 synthetic shapes; for real objects use --cfg/--weights" in err
    code, out, err = cli("detect", repo / "data" / "dog.jpg", "--no-save", "--model", "demo")
    assert code == 0 and "bundled demo model" not in err


def test_detect_cfg_without_weights_is_an_error(cli, repo):
    code, _, err = cli("detect", repo / "data" / "dog.jpg", "--cfg", repo / "cfg" / "yolov2-voc.cfg")
    assert code == 2 and "--cfg" in err and "--weights" in err and "demo" not in err


def test_detect_random_weights_runs_the_named_cfg(cli, model, tmp_path):
    cfg, _, names, _ = model
    img = make_image(tmp_path / "a.png")
    code, out, err = cli("detect", img, "--cfg", cfg, "--random-weights", "--names", names, "--no-save")
    assert code == 0, err
    assert "random weights" in err and "bundled demo" not in err


def test_detect_help_shows_both_forms_and_no_bool_noise(cli):
    code, out, _ = cli("detect", "--help")
    assert code == 0
    assert "darkpy detect CFG WEIGHTS IMAGE" in out and "detector test DATA CFG WEIGHTS" in out
    assert "--cfg CFG --weights WEIGHTS" in out
    assert "<bool>" not in out


def test_detector_family_is_listed(cli):
    code, out, _ = cli("detector", "--help")
    assert code == 0
    for sub in ("train", "test", "valid", "recall", "map", "demo", "calc_anchors"):
        assert sub in out


def test_detector_test_missing_weights_is_one_line(cli, model):
    _, _, _, data = model
    code, _, err = cli("detector", "test", data, "x.cfg")
    assert code == 2 and "missing WEIGHTS" in err


def test_detector_valid_recall_map_run_the_darkpy_commands(cli, model, tmp_path):
    cfg, weights, names, _ = model
    imgs = [make_image(tmp_path / f"v{i}.png") for i in range(2)]
    for img in imgs:
        img.with_suffix(".txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (tmp_path / "valid.txt").write_text("".join(f"{p}\n" for p in imgs))
    data = tmp_path / "v.data"
    data.write_text(f"classes = 1\nvalid = {tmp_path / 'valid.txt'}\nnames = {names}\n"
                    f"results = {tmp_path / 'res'}\n")
    code, out, err = cli("detector", "valid", data, cfg, weights, "-out", "mine_", "--workers", "0")
    assert code == 0, err
    assert (tmp_path / "res" / "mine_yellowish.txt").exists()
    code, out, err = cli("detector", "recall", data, cfg, weights, "--workers", "0")
    assert code == 0, err
    assert "recall" in out
    code, out, err = cli("detector", "map", data, cfg, weights, "--workers", "0")
    assert code == 0, err
    assert "mAP" in out or "AP" in out


def test_detector_calc_anchors_runs_kmeans(cli, tmp_path):
    from darkpy.data.synth import generate

    data = generate(tmp_path / "set", images=4, classes=3, size=64, seed=0)
    code, out, err = cli("detector", "calc_anchors", data, "-num_of_clusters", "3", "-width", "64",
                         "-height", "64", "--restarts", "1")
    assert code == 0, err
    assert "anchors = " in out and "k=3" in out


@pytest.mark.slow
def test_generated_yolov2_voc_weights_work_in_every_form(cli, repo, tmp_path, monkeypatch):
    """A random yolov2-voc.weights of the published size (written by darkpy's own writer) runs through
    `detect CFG W IMG`, `detector test DATA CFG W IMG`, `detect IMG --cfg --weights` and
    `detect --model yolov2-voc` with the same boxes; the cfg's batch=64 does not matter to detection."""
    from darkpy.net.model import load_network
    from darkpy.net.published import find_published

    entry = find_published("yolov2-voc")
    folder = tmp_path / "weights"
    folder.mkdir()
    weights = folder / entry.file
    load_network(entry.cfg_path(), device="cpu", seed=7).save_weights(weights)
    assert weights.stat().st_size == entry.size() + 4      # darkpy writes the 20-byte 0.2 header
    cfg = repo / "cfg" / "yolov2-voc.cfg"
    data = tmp_path / "voc.data"
    data.write_text(f"classes = 20\nnames = {repo / 'data' / 'voc.names'}\n")
    img = make_image(tmp_path / "small.png")
    monkeypatch.setenv("DARKPY_WEIGHTS", str(folder))
    common = ("--thresh", "0.01", "--json", "--no-save")
    runs = [cli("detect", cfg, weights, img, *common),              # names: the published model's
            cli("detector", "test", data, cfg, weights, img, *common),
            cli("detect", img, "--cfg", cfg, "--weights", weights, "--data", data, *common),
            cli("detect", img, "--model", "yolov2-voc", *common)]
    for code, out, err in runs:
        assert code == 0, err
        assert "bundled demo" not in err
    dets = [_json(out)[0]["detections"] for _, out, _ in runs]
    assert dets[0] and all(d == dets[0] for d in dets)
    assert {d["class"] for d in dets[0]} <= set((repo / "data" / "voc.names").read_text().split())


def test_no_help_page_shows_bool_types(cli):
    import typer.main

    from darkpy.cli import app

    root = typer.main.get_command(app)
    pages = []
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        pages += [(name, sub) for sub in subs] if subs else [(name,)]
    assert len(pages) > 20
    for page in pages:
        code, out, _ = cli(*page, "--help")
        assert code == 0, page
        assert "<bool>" not in out, page


def test_detector_demo_runs_detect_on_a_video(cli, model, tmp_path):
    import cv2
    import numpy as np

    cfg, weights, _, data = model
    src = tmp_path / "in.avi"
    vw = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 64))
    for _ in range(3):
        frame = np.zeros((64, 128, 3), np.uint8)
        frame[:32, :64] = (0, 255, 255)
        vw.write(frame)
    vw.release()
    code, out, err = cli("detector", "demo", data, cfg, weights, src, "-dont_show", "-thresh", ".5",
                         "--frames", "2", "--json", "--out", tmp_path / "out.avi")
    assert code == 0, err
    rows = _json(out)
    assert [r["frame"] for r in rows] == [0, 1]
    assert rows[0]["detections"][0]["class"] == "yellowish"
