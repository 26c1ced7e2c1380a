"""ILSVRC DET scoring: the size-dependent IoU rule, devkit matching, and the COCO/no-COCO split."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from darkpy.eval import Detections, GroundTruth, evaluate
from darkpy.eval.ilsvrc import coco_split, default_coco_split, ilsvrc_evaluate, ilsvrc_thresholds

REPO = Path(__file__).resolve().parents[2]


def gt_of(rows, images=1, names=("a", "b")):
    rows = np.array(rows, np.float64).reshape(-1, 6)  # img cls x1 y1 x2 y2
    return GroundTruth(list(names), [f"im{i}" for i in range(images)], rows[:, 0], rows[:, 1], rows[:, 2:])


def dets_of(rows):
    rows = np.array(rows, np.float64).reshape(-1, 7)  # img cls score x1 y1 x2 y2
    keys = np.array([f"im{int(i)}" for i in rows[:, 0]], object)
    return Detections(keys, rows[:, 1], rows[:, 2], rows[:, 3:])


def test_threshold_is_half_for_large_boxes_and_lower_for_small_ones():
    thr = ilsvrc_thresholds(np.array([[0, 0, 9, 9], [0, 0, 19, 19], [0, 0, 99, 199], [5, 5, 5, 5]]))
    # inclusive pixels: 10x10 -> 100/400; 20x20 -> 400/900; 100x200 -> 0.5; 1x1 -> 1/121
    assert thr == pytest.approx([0.25, 400 / 900, 0.5, 1 / 121])


def test_size_rule_makes_a_small_box_match_that_voc_rejects():
    # a 10x10 box and a detection shifted by 5 px: IoU 50/150 = 0.33, above its 0.25 threshold
    small = gt_of([[0, 0, 0, 0, 9, 9]])
    d = dets_of([[0, 0, .9, 5, 0, 14, 9]])
    r = evaluate(d, small, "voc,ilsvrc")
    assert r.classes[0].ap == 0.0 and r.classes[0].ilsvrc_ap == pytest.approx(1.0)
    # the same relative shift on a 100x100 box: IoU 0.33 < 0.5, a false positive for both
    large = gt_of([[0, 0, 0, 0, 99, 99]])
    r = evaluate(dets_of([[0, 0, .9, 50, 0, 149, 99]]), large, "voc,ilsvrc")
    assert r.classes[0].ap == 0.0 and r.classes[0].ilsvrc_ap == 0.0
    assert r.map_ilsvrc == 0.0 and r.classes[1].ilsvrc_ap is None  # no positives: left out


def test_a_detection_takes_the_best_free_box_where_voc_takes_the_best_box():
    # A and B side by side; det 1 sits on A; det 2 overlaps A most (0.71) and B enough (0.54):
    # VOC gives det 2 to A, already taken -> false; ILSVRC gives it B -> true
    gt = gt_of([[0, 0, 0, 0, 99, 99], [0, 0, 40, 0, 139, 99]])
    d = dets_of([[0, 0, .9, 0, 0, 99, 99], [0, 0, .8, 12, 0, 111, 99]])
    r = evaluate(d, gt, "voc,ilsvrc")
    assert r.classes[0].ap == pytest.approx(0.5) and r.classes[0].ilsvrc_ap == pytest.approx(1.0)


def devkit_reference(dets, gts):
    """One class, one detection at a time, as the devkit's loop: (tp, fp) in stable score order."""
    order = np.argsort(-np.array([d[1] for d in dets], np.float64), kind="stable")
    taken = set()
    tp, fp = [], []
    for i in order:
        img, _, b = dets[i]
        best, arg = -np.inf, None
        for j, (gimg, g) in enumerate(gts):
            if gimg != img or j in taken:
                continue
            w, h = g[2] - g[0] + 1, g[3] - g[1] + 1
            thr = min(0.5, w * h / ((w + 10) * (h + 10)))
            iw = min(b[2], g[2]) - max(b[0], g[0]) + 1
            ih = min(b[3], g[3]) - max(b[1], g[1]) + 1
            if iw > 0 and ih > 0:
                ov = iw * ih / ((b[2] - b[0] + 1) * (b[3] - b[1] + 1) + w * h - iw * ih)
                if ov >= thr and ov > best:
                    best, arg = ov, j
        if arg is None:
            tp.append(0), fp.append(1)
        else:
            taken.add(arg)
            tp.append(1), fp.append(0)
    return np.array(tp), np.array(fp)


def test_vectorised_matching_agrees_with_the_devkit_loop_on_random_cases():
    rng = np.random.default_rng(11)
    for trial in range(20):
        images, classes = 4, 3
        ng, nd = int(rng.integers(0, 15)), int(rng.integers(0, 40))
        gxy = rng.uniform(0, 60, (ng, 2))
        gwh = rng.choice([4.0, 8.0, 15.0, 40.0], (ng, 2))
        g_box = np.hstack([gxy, gxy + gwh])
        g_img, g_cls = rng.integers(0, images, ng), rng.integers(0, classes, ng)
        pick = rng.integers(0, max(ng, 1), nd)
        base = g_box[pick] if ng else rng.uniform(0, 60, (nd, 4))
        d_box = base + rng.normal(0, 3, (nd, 4))
        d_img = g_img[pick] if ng else rng.integers(0, images, nd)
        d_cls = np.where(rng.random(nd) < .8, g_cls[pick] if ng else 0, rng.integers(0, classes, nd))
        d_score = np.round(rng.random(nd), 1)  # ties on purpose
        res = ilsvrc_evaluate(d_img, d_cls, d_score, d_box, g_img, g_cls, g_box, np.zeros(ng, bool),
                              images, classes)
        for c in range(classes):
            rows = np.flatnonzero(d_cls == c)
            dets = [(int(d_img[i]), float(d_score[i]), d_box[i]) for i in rows]
            gts = [(int(g_img[j]), g_box[j]) for j in np.flatnonzero(g_cls == c)]
            tp, _ = devkit_reference(dets, gts)
            order = rows[np.argsort(-d_score[rows], kind="stable")]
            assert res.tp[order].astype(int).tolist() == tp.tolist(), (trial, c)


def test_difficult_boxes_are_neither_positives_nor_false_matches():
    gt = GroundTruth(["a"], ["im0"], [0, 0], [0, 0], [[0, 0, 99, 99], [200, 200, 299, 299]],
                     difficult=[False, True])
    d = dets_of([[0, 0, .9, 200, 200, 299, 299], [0, 0, .8, 0, 0, 99, 99]])
    r = evaluate(d, gt, "ilsvrc")
    assert r.classes[0].ilsvrc_ap == pytest.approx(1.0)


def test_coco_split_from_darknets_files():
    split, rule = default_coco_split(200)
    assert int(split.sum()) == 57 and int((~split).sum()) == 143 and "9k.tree" in rule
    names = (REPO / "data" / "9k.names").read_text().splitlines()
    det = [int(x) for x in (REPO / "data" / "inet9k.map").read_text().split()]
    with_coco = {names[n] for n, s in zip(det, split) if s}
    assert {"dog", "person", "domestic cat", "racket"} <= with_coco
    assert "armadillo" not in with_coco and "accordion" not in with_coco
    assert default_coco_split(80) is None


def test_coco_split_rule_on_a_small_tree():
    from darkpy.wordtree.tree import build_tree

    # top: 0 animal, 1 fish; 0 -> 2 dog, 3 cat; 2 -> 4 terrier
    tree = build_tree([f"n{i}" for i in range(5)], [-1, -1, 0, 0, 2])
    # COCO has 'dog' (2); DET asks for terrier (below), animal (above), cat and fish (unrelated)
    assert coco_split(tree, [4, 0, 3, 1], [2]).tolist() == [True, True, False, False]


def test_split_report_and_json(tmp_path):
    gt = gt_of([[0, 0, 0, 0, 99, 99], [0, 1, 0, 0, 99, 99]])
    d = dets_of([[0, 0, .9, 0, 0, 99, 99]])
    r = evaluate(d, gt, "ilsvrc", coco_split=[True, False], split_note="test rule")
    s = r.ilsvrc_split()
    assert s["with_coco"]["mAP"] == pytest.approx(1.0) and s["without_coco"]["mAP"] == 0.0
    from darkpy.eval.report import ilsvrc_split_lines, write_json

    lines = ilsvrc_split_lines(r)
    assert "1 classes with COCO data" in lines[0] and "= 1.0000" in lines[0] and "= 0.0000" in lines[1]
    write_json(r, tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["ilsvrc"]["mAP"] == pytest.approx(0.5) and data["ilsvrc_split"]["rule"] == "test rule"


def test_map_cli_ilsvrc_with_a_split_file(cli, tmp_path):
    # two classes, ground truth as Darknet labels beside the images' paths, one result file
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "im0.txt").write_text("0 0.1 0.1 0.1 0.1\n1 0.5 0.5 0.5 0.5\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'images' / 'im0.jpg'}\n")
    (tmp_path / "names").write_text("ant\nbee\n")
    (tmp_path / "comp4_det_test_ant.txt").write_text("im0 0.9 6 6 15 15\n")  # a 10x10 box, 1-based
    (tmp_path / "coco.txt").write_text("ant\n")
    code, out, err = cli("map", "--results", tmp_path / "comp4_det_test_ant.txt", "--gt",
                         tmp_path / "list.txt", "--names", tmp_path / "names", "--image-size", "100x100",
                         "--metric", "ilsvrc", "--coco-split", tmp_path / "coco.txt")
    assert code == 0, err
    assert "mAP ILSVRC = 0.5000" in out and "1 classes with COCO data" in out
    code, _, err = cli("map", "--results", tmp_path / "comp4_det_test_ant.txt", "--gt", tmp_path / "list.txt",
                       "--names", tmp_path / "names", "--image-size", "100x100", "--coco-split",
                       tmp_path / "coco.txt")
    assert code == 2 and "--metric ilsvrc" in err
