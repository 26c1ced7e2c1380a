"""`darkpy classifier` and its one-line errors."""
from __future__ import annotations

import darkpy


def trained_files(tmp_path, color_set, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier")
    net = darkpy.load_network(cfg, device="cpu", seed=2)
    weights = net.save_weights(tmp_path / "t.weights")
    return cfg, weights


def test_predict_prints_top_k_lines(cli, tmp_path, color_set, tiny_cfg):
    cfg, weights = trained_files(tmp_path, color_set, tiny_cfg)
    code, out, err = cli("classifier", "predict", color_set["data"], cfg, weights, *color_set["valid"][:2],
                         "--top", "3")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == f"{color_set['valid'][0]}:"
    probs = [float(l.strip().split("%")[0]) for l in lines[1:4]]
    assert probs == sorted(probs, reverse=True)
    assert all(l.strip().split(": ")[1] in ("red", "green", "blue", "yellow") for l in lines[1:4])


def test_valid_prints_accuracies_and_per_class_table(cli, tmp_path, color_set, tiny_cfg):
    cfg, weights = trained_files(tmp_path, color_set, tiny_cfg)
    code, out, err = cli("classifier", "valid", color_set["data"], cfg, weights, "--show", "2")
    assert code == 0, err
    assert "images: top 1: " in out and "top 2: " in out
    assert "most confused with" in out


def test_top_larger_than_classes_is_an_error(cli, tmp_path, color_set, tiny_cfg):
    cfg, weights = trained_files(tmp_path, color_set, tiny_cfg)
    code, _, err = cli("classifier", "valid", color_set["data"], cfg, weights, "--top", "9")
    assert code == 2 and "--top 9 must be between 1 and classes=4" in err
    data = tmp_path / "bad.data"
    data.write_text(color_set["data"].read_text().replace("top=2", "top=7"))
    code, _, err = cli("classifier", "valid", data, cfg, weights)
    assert code == 2 and "top=7 is larger than classes=4" in err


def test_paths_matching_no_label_or_two_are_reported(cli, tmp_path, color_set, tiny_cfg):
    cfg, weights = trained_files(tmp_path, color_set, tiny_cfg)
    root = color_set["data"].parent
    valid = root / "valid.list"
    paths = valid.read_text().split()
    ghost = root / "valid" / "0000_purple.png"
    ghost.write_bytes((root / "valid" / "0000_red.png").read_bytes())
    both = root / "valid" / "red_and_blue.png"
    both.write_bytes(ghost.read_bytes())
    valid.write_text("\n".join(paths + [str(ghost), str(both)]) + "\n")
    code, _, err = cli("classifier", "valid", color_set["data"], cfg, weights)
    assert code == 2
    assert "1 image path(s) contain no label" in err and "0000_purple.png" in err
    assert "red_and_blue.png' matches 'red', 'blue'" in err


def test_train_refuses_a_detector_cfg(cli, tmp_path, color_set, golden):
    code, _, err = cli("classifier", "train", color_set["data"], golden / "cfg" / "g_yolov2_mini.cfg")
    assert code == 2 and "not a classifier" in err


def test_label_prints_one_class_per_test_image(cli, tmp_path, color_set, tiny_cfg):
    """Darknet's `classifier label DATA CFG WEIGHTS`: the best class of every image of test=."""
    cfg, weights = trained_files(tmp_path, color_set, tiny_cfg)
    data = tmp_path / "label.data"
    data.write_text(color_set["data"].read_text() + f"test={tmp_path / 'valid.list'}\n")
    code, out, err = cli("classifier", "label", data, cfg, weights)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(color_set["valid"])
    assert set(lines) <= {"red", "green", "blue", "yellow"}
    code, _, err = cli("classifier", "label", color_set["data"], cfg, weights)
    assert code == 2 and "no 'test=' entry" in err


def test_darknet_flags_for_classifier_train(cli):
    code, out, _ = cli("classifier", "train", "--help")
    assert code == 0 and "-clear" in out and "-gpus" in out and "--workers" in out
    assert "--threads" not in out   # old name still accepted, not shown


def test_classifier_train_batch_1_warns_and_batch_overrides(cli, tmp_path, color_set, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "one.cfg", "classifier", batch=1, subdivisions=1, max_batches=1)
    code, out, err = cli("classifier", "train", color_set["data"], cfg, "--backup", tmp_path / "b",
                         "--workers", "0")
    assert code == 0, err
    assert f"{cfg}:2: batch=1 trains on one image per step" in out
    code, out, err = cli("classifier", "train", color_set["data"], cfg, "--backup", tmp_path / "c",
                         "--batch", "4", "--subdivisions", "2", "-clear")
    assert code == 0, err
    assert "batch 4 (subdivisions 2)" in out and "batch=1 trains" not in out
