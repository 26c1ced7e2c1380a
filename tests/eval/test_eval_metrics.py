"""VOC and COCO rules on hand-made and random cases, against slow one-box-at-a-time versions."""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.eval import Detections, GroundTruth, evaluate
from darkpy.eval.voc import ap_area, ap_voc07, voc_class

from reference import coco_reference, voc_reference


def gt_of(rows, images=1, names=("a", "b"), difficult=None, crowd=None, area=None):
    rows = np.array(rows, np.float64).reshape(-1, 6)  # img cls x1 y1 x2 y2
    return GroundTruth(list(names), [f"im{i}" for i in range(images)], rows[:, 0], rows[:, 1], rows[:, 2:],
                       difficult=difficult, crowd=crowd, area=area)


def dets_of(rows):
    rows = np.array(rows, np.float64).reshape(-1, 7)  # img cls score x1 y1 x2 y2
    return Detections(np.array([f"im{int(i)}" for i in rows[:, 0]], object), rows[:, 1], rows[:, 2], rows[:, 3:])


def test_perfect_detections_score_one_everywhere():
    gt = gt_of([[0, 0, 10, 10, 200, 150], [0, 1, 50, 50, 60, 62]])
    d = dets_of([[0, 0, .9, 10, 10, 200, 150], [0, 1, .8, 50, 50, 60, 62]])
    r = evaluate(d, gt)
    assert r.map07 == pytest.approx(1.0) and r.map == pytest.approx(1.0)
    assert r.coco.stats["AP"] == pytest.approx(1.0)
    assert r.coco.stats["AP_small"] == pytest.approx(1.0) and r.coco.stats["AP_large"] == pytest.approx(1.0)
    assert r.coco.stats["AP_medium"] == -1.0


def test_duplicate_detection_is_a_false_positive():
    gt = gt_of([[0, 0, 10, 10, 100, 100]])
    d = dets_of([[0, 0, .9, 10, 10, 100, 100], [0, 0, .8, 11, 11, 100, 100]])
    row = evaluate(d, gt, "voc").classes[0]
    assert (row.tp, row.fp, row.fn) == (1, 1, 0)
    assert row.ap == pytest.approx(1.0)  # the duplicate ranks below the hit


def test_difficult_match_is_neither_true_nor_false_and_not_a_positive():
    gt = gt_of([[0, 0, 10, 10, 100, 100], [0, 0, 200, 200, 300, 300]], difficult=[False, True])
    d = dets_of([[0, 0, .95, 200, 200, 300, 300], [0, 0, .9, 10, 10, 100, 100]])
    row = evaluate(d, gt, "voc07").classes[0]
    assert row.positives == 1 and (row.tp, row.fp) == (1, 0)
    assert row.ap07 == pytest.approx(1.0)


def test_class_without_detections_scores_zero_and_without_truth_is_excluded():
    gt = gt_of([[0, 0, 10, 10, 100, 100]])
    d = dets_of([[0, 1, .9, 10, 10, 100, 100]])
    r = evaluate(d, gt, "all")
    a, b = r.classes
    assert a.ap07 == 0.0 and a.ap == 0.0 and a.coco_ap == 0.0
    assert b.ap07 is None and b.ap is None and b.coco_ap is None
    assert r.map07 == 0.0  # the mean over classes with positives only


def test_no_detections_at_all():
    gt = gt_of([[0, 0, 10, 10, 100, 100]])
    r = evaluate(Detections.empty(), gt)
    assert r.map07 == 0.0 and r.coco.stats["AP"] == 0.0 and r.totals()["fn"] == 1


def test_iou_thresh_changes_what_matches():
    gt = gt_of([[0, 0, 0, 0, 99, 99]])
    d = dets_of([[0, 0, .9, 0, 0, 99, 59]])  # IoU 0.6 with +1 pixels
    assert evaluate(d, gt, "voc", iou_thresh=0.5).classes[0].ap == pytest.approx(1.0)
    assert evaluate(d, gt, "voc", iou_thresh=0.7).classes[0].ap == 0.0


def test_crowd_box_absorbs_detections_without_false_positives():
    gt = gt_of([[0, 0, 0, 0, 100, 100], [0, 0, 200, 200, 400, 400]], crowd=[False, True])
    d = dets_of([[0, 0, .99, 210, 210, 260, 260], [0, 0, .98, 300, 300, 350, 350], [0, 0, .9, 0, 0, 100, 100]])
    stats = evaluate(d, gt, "coco").coco.stats
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR100"] == pytest.approx(1.0)


def test_max_dets_one_recalls_one_box_of_two():
    gt = gt_of([[0, 0, 0, 0, 100, 100], [0, 0, 200, 200, 300, 300]])
    d = dets_of([[0, 0, .9, 0, 0, 100, 100], [0, 0, .8, 200, 200, 300, 300]])
    stats = evaluate(d, gt, "coco").coco.stats
    assert stats["AR1"] == pytest.approx(0.5) and stats["AR10"] == pytest.approx(1.0)


def test_ap_functions_on_a_known_curve():
    rec = np.array([0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 2 / 3])
    assert ap_area(rec, prec) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert ap_voc07(rec, prec) == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


def _random_case(rng, images=12, classes=3, crowd=True):
    gts, dets = [], []
    for img in range(images):
        for _ in range(rng.integers(0, 5)):
            c = int(rng.integers(classes))
            x, y = rng.uniform(0, 300, 2).round()
            w, h = rng.choice([12, 40, 90, 150], 2) + rng.integers(0, 9, 2)
            gts.append((img, c, (x, y, x + w, y + h), float(w * h), bool(crowd and rng.random() < 0.2),
                        bool(rng.random() < 0.15)))
            for _ in range(rng.integers(0, 4)):  # near hits, duplicates
                j = rng.normal(0, 0.15 * min(w, h), 4).round(1)
                dets.append((img, c, float(rng.choice([0.3, 0.5, rng.random()])),
                             (x + j[0], y + j[1], x + w + j[2], y + h + j[3])))
        for _ in range(rng.integers(0, 4)):  # strays
            x, y = rng.uniform(0, 300, 2)
            dets.append((img, int(rng.integers(classes)), float(rng.random()), (x, y, x + 50, y + 30)))
    return gts, dets


@pytest.mark.parametrize("seed", range(6))
def test_voc_matching_agrees_with_one_detection_at_a_time(seed):
    rng = np.random.default_rng(seed)
    gts, dets = _random_case(rng, crowd=False)
    for c in range(3):
        g = [(x[0], x[2], x[5]) for x in gts if x[1] == c]
        d = [(x[0], x[2], x[3]) for x in dets if x[1] == c]
        tp, fp = voc_reference(d, g)
        res = voc_class(np.array([x[0] for x in d], np.int64), np.array([x[1] for x in d]),
                        np.array([x[2] for x in d]).reshape(-1, 4), np.array([x[0] for x in g], np.int64),
                        np.array([x[1] for x in g]).reshape(-1, 4), np.array([x[2] for x in g], bool), 12)
        assert np.array_equal(res.tp, tp.astype(bool)) and np.array_equal(res.fp, fp.astype(bool))


@pytest.mark.parametrize("seed", range(4))
def test_coco_matching_agrees_with_one_detection_at_a_time(seed):
    rng = np.random.default_rng(100 + seed)
    gts, dets = _random_case(rng)
    gt = GroundTruth(["a", "b", "c"], [f"im{i}" for i in range(12)], [x[0] for x in gts], [x[1] for x in gts],
                     np.array([x[2] for x in gts]).reshape(-1, 4), crowd=[x[4] for x in gts],
                     area=[x[3] for x in gts])
    d = Detections(np.array([f"im{x[0]}" for x in dets], object), [x[1] for x in dets], [x[2] for x in dets],
                   np.array([x[3] for x in dets]).reshape(-1, 4))
    ours = evaluate(d, gt, "coco").coco.stats
    ref = coco_reference([(x[0], x[1], x[2], x[3]) for x in dets], [x[:5] for x in gts], 12, 3)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_coco_score_ties_rank_by_image_id_as_pycocotools():
    """Issue 20: an image list gave ties its own order (AP 0.5050); pycocotools walks images by
    sorted id, so the false positive of image 1 ranks before the true positive of image 2 (0.2525)."""
    from darkpy.eval.detections import Detections, GroundTruth
    from darkpy.eval.evaluate import evaluate

    gt = GroundTruth(names=["a"], images=["img_2", "img_1"], image=[0, 1], cls=[0, 0],
                     box=[[10, 10, 60, 60], [10, 10, 60, 60]], coco_image_ids=[2, 1])
    dets = Detections(image=["img_2", "img_1"], cls=[0, 0], score=[0.9, 0.9],
                      box=[[10, 10, 60, 60], [200, 200, 250, 250]])
    report = evaluate(dets, gt, "coco")
    assert report.coco.class_ap(0, 0.5) == pytest.approx(51 * 0.5 / 101, abs=1e-4)
