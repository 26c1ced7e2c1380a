"""darkpy's numbers against the reference evaluators' numbers for the golden fixture (1e-4)."""
from __future__ import annotations

import numpy as np
import pytest

from darkpy.eval import evaluate
from darkpy.eval.groundtruth import gt_from_coco, gt_from_labels
from darkpy.eval.resultfiles import read_coco_results, resolve_coco_results
from darkpy.eval.voc import voc_class

pytestmark = pytest.mark.golden


def close(a, b):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-4)


def test_voc_aps_match_voc_eval_per_class_and_class_without_positives_is_null(voc_dets, voc_gt, expected, names):
    report = evaluate(voc_dets, voc_gt, "voc07,voc").to_dict()
    for name in names:
        assert close(report["voc07_11point"][name], expected["voc07_11point"][name]), name
        assert close(report["voc_area"][name], expected["voc_area"][name]), name
    assert report["voc07_11point"]["ghost"] is None
    means = [v for v in expected["voc07_11point"].values() if v is not None]
    assert abs(report["voc07_11point"]["mAP"] - np.mean(means)) < 1e-4


def test_coco_stats_match_pycocotools_from_coco_json(eval_dir, expected):
    gt = gt_from_coco(eval_dir / "coco_gt.json")
    records = read_coco_results(eval_dir / "coco_results.json")
    dets = resolve_coco_results(records, dict(zip(gt.coco_image_ids, gt.images)), gt.category_ids)
    stats = evaluate(dets, gt, "coco").coco.stats
    for key, value in expected["coco"].items():
        assert abs(stats[key] - value) <= 1e-4, key


def test_coco_stats_match_from_voc_files_and_xml_too(voc_dets, voc_gt, expected):
    stats = evaluate(voc_dets, voc_gt, "coco").coco.stats
    for key, value in expected["coco"].items():
        assert abs(stats[key] - value) <= 1e-4, key


def test_tied_scores_follow_numpy_default_argsort_as_voc_eval(voc_dets, voc_gt, expected, names):
    # the fixture's ties change AP when ordered stably: only voc_eval's own sort reproduces it
    from darkpy.eval.evaluate import _image_indices

    img = _image_indices(voc_dets, voc_gt)
    differs = False
    for c, name in enumerate(names[:3]):
        d, g = voc_dets.cls == c, voc_gt.cls == c
        args = (img[d], voc_dets.score[d], voc_dets.box[d], voc_gt.image[g], voc_gt.box[g],
                voc_gt.difficult[g], len(voc_gt.images))
        assert close(voc_class(*args).ap07, expected["voc07_11point"][name])
        differs |= not close(voc_class(*args, sort_kind="stable").ap07, expected["voc07_11point"][name])
    assert differs


def test_label_ground_truth_drops_difficult_boxes_so_scores_differ_but_run(eval_dir, names, voc_dets, voc_gt):
    gt = gt_from_labels(eval_dir / "test.txt", names, default_size=(500, 375))
    assert len(gt) == int((~voc_gt.difficult).sum())
    keep = ~voc_gt.difficult
    assert np.allclose(np.sort(gt.box, 0), np.sort(voc_gt.box[keep], 0), atol=1e-3)
    report = evaluate(voc_dets, gt, "voc07")
    assert report.map07 is not None and 0 < report.map07 < 1
