import re
import shutil

import numpy as np
import pytest

FAMILIES = np.array([[0.04, 0.07], [0.30, 0.18], [0.22, 0.65]])


@pytest.fixture
def dataset(tmp_path):
    """200 images, three tight families of box shapes, one image without labels, one zero-size box."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    labels = tmp_path / "labels"
    labels.mkdir()
    images = []
    for i in range(200):
        image = tmp_path / "images" / f"{i:03d}.jpg"
        images.append(str(image))
        n = int(rng.integers(1, 4))
        shapes = FAMILIES[rng.integers(0, 3, n)] * np.exp(rng.normal(0, 0.03, (n, 2)))
        lines = [f"{i % 2} 0.5 0.5 {w:.6f} {h:.6f}" for w, h in shapes]
        if i == 7:
            lines.append("0 0.5 0.5 0.000000 0.100000")
        (labels / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
    images.append(str(tmp_path / "images" / "unlabelled.jpg"))
    (tmp_path / "train.txt").write_text("\n".join(images) + "\n")
    (tmp_path / "voc.data").write_text(f"classes= 2\ntrain  = {tmp_path / 'train.txt'}\nnames = x\n")
    return tmp_path


def anchors_line(out):
    m = re.search(r"^anchors = (.*)$", out, re.M)
    assert m, out
    return np.array([float(v) for v in re.split(r"[,\s]+", m.group(1)) if v]).reshape(-1, 2)


def test_kmeans_recovers_families_in_grid_units(cli, dataset):
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "3")
    assert code == 0, out
    got = anchors_line(out)
    want = FAMILIES[np.argsort(FAMILIES.prod(axis=1))] * 416 / 32
    np.testing.assert_allclose(got, want, rtol=0.03)
    assert re.search(r"avg IoU 9\d\.\d\d%", out)
    assert "grid units (416x416, stride 32)" in out


def test_yolo_cfg_gives_pixels_at_its_size(cli, dataset, repo):
    code, out, _ = cli("kmeans", "--k", "3", "--labels", dataset / "labels", "--cfg", repo / "cfg" / "yolov3.cfg",
                       "--restarts", "2")
    assert code == 0, out
    got = anchors_line(out)
    np.testing.assert_allclose(got, FAMILIES[np.argsort(FAMILIES.prod(axis=1))] * 608, rtol=0.03, atol=1)
    assert all(float(v).is_integer() for v in got.ravel())


def test_units_and_separate_width_height(cli, dataset):
    code, out, _ = cli("kmeans", "--k", "3", "--list", dataset / "train.txt", "--units", "pixels",
                       "--width", "640", "--height", "320", "--restarts", "2")
    assert code == 0
    got = anchors_line(out)
    np.testing.assert_allclose(got, FAMILIES[np.argsort(FAMILIES.prod(axis=1))] * [640, 320], rtol=0.03, atol=1)


def test_compare_scores_given_anchors_in_output_units(cli, dataset):
    exact = ",".join(f"{v:.4f}" for v in (FAMILIES * 13).ravel())
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "2",
                       "--compare", "1.08,1.19,3.42,4.41,6.63,11.38,9.42,5.11,16.62,10.52")
    assert code == 0
    m = re.search(r"compare: 5 given anchors score avg IoU (\d+\.\d\d)%", out)
    assert m and float(m.group(1)) < 80
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "2", "--compare", exact)
    assert float(re.search(r"compare: 3 given anchors score avg IoU (\d+\.\d\d)%", out).group(1)) > 95


def test_sweep_prints_table_marks_knee_and_writes_png(cli, dataset, tmp_path):
    import cv2

    png = tmp_path / "out" / "sweep.png"
    code, out, _ = cli("kmeans", "--data", dataset / "voc.data", "--sweep", "1..6", "--restarts", "2",
                       "--plot", png)
    assert code == 0, out
    assert "knee at k=3" in out
    assert len(anchors_line(out)) == 3
    img = cv2.imread(str(png))
    assert img is not None and img.shape[2] == 3


def test_write_cfg_rewrites_in_place(cli, dataset, repo, tmp_path):
    cfg = tmp_path / "net.cfg"
    shutil.copy(repo / "cfg" / "yolov2-voc.cfg", cfg)
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "2", "--write-cfg", cfg)
    assert code == 0, out
    text = cfg.read_text()
    assert "num=3\n" in text and "filters=75\n" in text  # 3 * (4 + 1 + 20)
    line = re.search(r"^anchors =  (.*)$", text, re.M).group(1)
    np.testing.assert_allclose(anchors_line("anchors = " + line), anchors_line(out))
    assert "3 lines changed" in out


def test_no_labels_is_one_line_error_naming_the_place(cli, tmp_path):
    (tmp_path / "train.txt").write_text(str(tmp_path / "images" / "a.jpg") + "\n")
    code, _, err = cli("kmeans", "--list", tmp_path / "train.txt")
    assert code == 2
    assert "no label files found" in err and "labels/a.txt" in err


def test_k_larger_than_distinct_boxes(cli, tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.2\n0 0.5 0.5 0.1 0.2\n0 0.5 0.5 0.3 0.3\n")
    code, _, err = cli("kmeans", "--k", "5", "--labels", tmp_path / "labels")
    assert code == 2
    assert "k=5 is more than the 2 distinct box shapes" in err


@pytest.mark.parametrize("args,message", [
    (["--sweep", "5..2"], "--sweep wants a range"),
    (["--units", "inches"], "--units must be grid or pixels"),
    (["--compare", "1,2,3"], "pairs"),
    (["--restarts", "0"], "--restarts must be positive"),
])
def test_bad_options_are_usage_errors(cli, dataset, args, message):
    code, _, err = cli("kmeans", "--labels", dataset / "labels", *args)
    assert code == 2
    assert message in err


def test_two_sources_is_an_error(cli, dataset):
    code, _, err = cli("kmeans", "--labels", dataset / "labels", "--list", dataset / "train.txt")
    assert code == 2 and "exactly one" in err


def test_runs_as_a_real_process(dataset, repo):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "darkpy", "kmeans", "--k", "2", "--restarts", "1",
                           "--labels", str(dataset / "nowhere")], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such label folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_error_naming_a_cfg_section_keeps_its_brackets(dataset, repo, tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "classifier.cfg"
    shutil.copy(repo / "cfg" / "darknet19.cfg", cfg)
    proc = subprocess.run([sys.executable, "-m", "darkpy", "kmeans", "--k", "2", "--restarts", "1",
                           "--labels", str(dataset / "labels"), "--write-cfg", str(cfg)],
                          cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no [region] or [yolo] layer" in proc.stderr


def test_median_and_a_sweep_list(cli, dataset, tmp_path):
    code, out, _ = cli("kmeans", "--labels", dataset / "labels", "--median", "--restarts", "2",
                       "--sweep", "2,3,5", "--plot", tmp_path / "s.png")
    assert code == 0, out
    assert "median centroids" in out
    assert re.findall(r"^│\s+(\d+) │", out, re.M)[:3] == ["2", "3", "5"]
    assert (tmp_path / "s.png").exists()


def test_stride_16_cfg_uses_its_real_grid(cli, dataset, repo, tmp_path):
    """cfg/demo.cfg is 96x96 on a 6x6 grid: 16 pixels a cell, not 32 (issue 13 item 7)."""
    cfg = tmp_path / "demo.cfg"
    shutil.copy(repo / "cfg" / "demo.cfg", cfg)
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "2",
                       "--cfg", cfg, "--write-cfg", cfg)
    assert code == 0, out
    assert "96x96, stride 16" in out and "stride 32" not in out
    want = FAMILIES[np.argsort(FAMILIES.prod(axis=1))] * 96 / 16
    np.testing.assert_allclose(anchors_line(out), want, rtol=0.03)
    from darkpy.net.cfg import parse_cfg

    region = [s for s in parse_cfg(cfg) if s.name == "region"][0]
    np.testing.assert_allclose(np.array(region.floats("anchors")).reshape(-1, 2), want, rtol=0.03)
    assert region.int("num") == 3


def test_write_cfg_follows_a_symlink_and_keeps_the_mode(cli, dataset, repo, tmp_path):
    import os
    import stat

    real = tmp_path / "real" / "v2.cfg"
    real.parent.mkdir()
    shutil.copy(repo / "cfg" / "yolov2-voc.cfg", real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.cfg"
    link.symlink_to(real)
    code, out, _ = cli("kmeans", "--k", "3", "--data", dataset / "voc.data", "--restarts", "1", "--write-cfg", link)
    assert code == 0, out
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert "num=3" in real.read_text()
    assert not [p for p in real.parent.iterdir() if p.name != "v2.cfg"], "no temporary left behind"
