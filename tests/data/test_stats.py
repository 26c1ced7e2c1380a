import cv2
import numpy as np

from darkpy.data.stats import collect, scatter
from darkpy.data.synth import generate


def test_counts_boxes_per_class_of_the_training_list(tmp_path):
    data = generate(tmp_path / "s", images=10, classes=3, size=48, seed=4)
    stats = collect(data)
    files = sorted((tmp_path / "s/labels").glob("*.txt"))[:8]
    labels = [line for p in files for line in p.read_text().splitlines()]
    expected = np.bincount([int(line.split()[0]) for line in labels], minlength=3)
    assert stats.images == 8 and len(stats.boxes) == len(labels)
    assert stats.per_class().tolist() == expected.tolist()
    assert stats.name(1) == "square"


def test_broken_lines_are_left_out(tmp_path):
    data = generate(tmp_path / "s", images=3, classes=2, size=48, seed=4, valid=0.0)
    lab = sorted((tmp_path / "s/labels").glob("*.txt"))
    lab[0].write_text("0 0.5 0.5 0.2 0.3\n9 0.5 0.5 0.2 0.2\nbad\n")
    lab[1].unlink()
    stats = collect(data)
    assert stats.boxes[0].tolist() == [0, 0.5, 0.5, np.float32(0.2), np.float32(0.3)]
    assert len(stats.boxes) == 1 + len(lab[2].read_text().splitlines())


def test_scatter_is_a_png(tmp_path):
    stats = collect(generate(tmp_path / "s", images=6, classes=2, size=48))
    img = cv2.imread(str(scatter(stats, tmp_path / "boxes.png")))
    assert img is not None and img.shape[2] == 3


def test_cli_stats(cli, tmp_path):
    data = generate(tmp_path / "s", images=4, classes=2, size=48)
    code, out, _ = cli("data", "stats", data, "-o", tmp_path / "b.png")
    assert code == 0, out
    assert "boxes per class" in out and (tmp_path / "b.png").is_file()
