"""`darkpy train` / `darkpy detector train`: a short run, and user mistakes as one-line errors."""
from __future__ import annotations

import pytest

from darkpy.data.synth import generate

@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tiny_cfg):
    root = tmp_path_factory.mktemp("cli")
    data = generate(root / "set", images=6, classes=3, size=64, seed=0)
    cfg = tiny_cfg(root / "tiny.cfg")
    return data, cfg


def test_detector_train_runs_and_writes_darknet_files(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("detector", "train", data, cfg, "--max-batches", "3", "--workers", "0")
    assert code == 0, err
    assert "IOU" in out and "No Obj" in out and "Recall" in out and "avg" in out
    backup = data.parent / "backup"
    assert (backup / "tiny_final.weights").exists() and (backup / "chart.png").exists()
    import numpy as np

    header = np.fromfile(backup / "tiny_final.weights", dtype=np.int32, count=5)
    assert header[3] == 3 * 4   # seen = 3 batches of 4 images


def test_train_resume_continues_from_the_backup(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "2", "--workers", "0", "--backup",
                         tmp_path, "--name", "r")
    assert code == 0, err
    assert (tmp_path / "chart_r.png").exists() and not (tmp_path / "chart.png").exists()  # its own chart
    # no NAME.backup before batch 100: resuming needs one
    code, _, err = cli("train", cfg, "--data", data, "--max-batches", "4", "--workers", "0", "--backup", tmp_path,
                       "--name", "r", "--resume")
    assert code == 2 and "no backup" in err


def test_train_without_data_is_an_error(cli, dataset):
    _, cfg = dataset
    code, _, err = cli("train", cfg)
    assert code == 2 and "--data" in err


def test_data_file_without_train_key(cli, dataset, tmp_path):
    _, cfg = dataset
    bad = tmp_path / "bad.data"
    bad.write_text("classes = 3\nnames = x.names\n")
    code, _, err = cli("train", cfg, "--data", bad)
    assert code == 2 and "train" in err and "bad.data" in err


def test_missing_training_list(cli, dataset, tmp_path):
    _, cfg = dataset
    bad = tmp_path / "bad.data"
    bad.write_text("classes = 3\ntrain = /nonexistent/train.txt\n")
    code, _, err = cli("train", cfg, "--data", bad)
    assert code == 2 and "not found" in err and "bad.data:2" in err


def test_classes_must_match_the_cfg(cli, dataset, tmp_path):
    data, cfg = dataset
    bad = tmp_path / "five.data"
    bad.write_text(data.read_text().replace("classes = 3", "classes = 5"))
    code, _, err = cli("train", cfg, "--data", bad)
    assert code == 2 and "classes=5" in err


def test_cfg_without_region_layer(cli, dataset, tmp_path, repo):
    data, _ = dataset
    code, _, err = cli("train", repo / "cfg" / "darknet19.cfg", "--data", data)
    assert code == 2 and "[region]" in err


def test_train_with_map_hook(cli, dataset, tmp_path):
    data, cfg = dataset
    code, out, err = cli("train", cfg, "--data", data, "--max-batches", "2", "--workers", "0", "--backup", tmp_path,
                         "--name", "m", "--map", "--map-every", "1")
    assert code == 0, err
    assert "mAP" in out and (tmp_path / "m_map.json").exists()


def test_chart_x_ticks_are_whole_batches():
    from darkpy.charts import Chart

    ticks = Chart("t", integer_x=True).x_ticks(0, 2)
    assert ticks == [(0.0, "0"), (1.0, "1"), (2.0, "2")]
    assert [label for _, label in Chart("t", integer_x=True).x_ticks(0, 1000)] == ["0", "200", "400", "600",
                                                                                "800", "1000"]


@pytest.mark.slow
def test_ddp_cpu_prints_the_closing_saved_line(dataset, tmp_path):
    """Issue 20: with --ddp-cpu the closing line was missing (the CLI gets no Trainer back)."""
    import os
    import subprocess
    import sys

    from darkpy.assets import ROOT

    data, cfg = dataset
    run = subprocess.run([sys.executable, "-m", "darkpy", "train", str(cfg), "--data", str(data), "--ddp-cpu", "2",
                          "--max-batches", "1", "--workers", "0", "--backup", str(tmp_path / "b")],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("Saved ") == 1 and "tiny_final.weights after 1 batches" in run.stdout
