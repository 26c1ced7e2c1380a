"""Result files: Darknet's layouts written, read back and scored the same; bad files named by line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from darkpy.errors import DataError
from darkpy.eval import Detections, evaluate
from darkpy.eval.groundtruth import gt_from_labels
from darkpy.formats.imagesize import image_size
from darkpy.eval.resultfiles import (
    coco_image_id, read_coco_results, read_imagenet_results, read_voc_results, resolve_coco_results,
    write_coco_results, write_imagenet_results, write_voc_results)


def test_voc_files_round_trip_and_score_identically(tmp_path, voc_dets, voc_gt, names):
    files = write_voc_results(voc_dets, names, tmp_path)
    assert [f.name for f in files] == [f"comp4_det_test_{n}.txt" for n in names]
    back = read_voc_results(files, names)
    by_class = voc_dets.take(np.argsort(voc_dets.cls, kind="stable"))  # one file per class, in names order
    assert np.allclose(back.box, by_class.box, atol=5e-7) and np.array_equal(back.cls, by_class.cls)
    assert np.array_equal(back.image, by_class.image) and np.allclose(back.score, by_class.score, atol=5e-7)
    a, b = evaluate(voc_dets, voc_gt).to_dict(), evaluate(back, voc_gt).to_dict()
    assert a["voc07_11point"] == b["voc07_11point"] and a["voc_area"] == b["voc_area"]
    assert a["coco"] == pytest.approx(b["coco"], abs=1e-12)


def test_voc_writer_uses_darknets_one_based_six_decimal_lines(tmp_path):
    d = Detections.from_records([("img7", 0, 0.5, 9.0, 19.5, 99.25, 120.0)])
    (path,) = write_voc_results(d, ["cat"], tmp_path, sizes={"img7": (100, 120)})
    assert path.read_text() == "img7 0.500000 10.000000 20.500000 100.000000 120.000000\n"


def test_coco_file_round_trips_with_darknet_ids(tmp_path, voc_dets, voc_gt):
    ids = {k: i + 1 for i, k in enumerate(voc_gt.images)}
    cats = [1, 3, 7, 9]
    path = write_coco_results(voc_dets, tmp_path / "coco_results.json", ids, cats)
    text = path.read_text()
    assert text.startswith("[\n{\"image_id\":") and "\"bbox\":[" in text and text.endswith("}\n]\n")
    back = resolve_coco_results(read_coco_results(path), {v: k for k, v in ids.items()}, cats)
    a, b = evaluate(voc_dets, voc_gt).to_dict(), evaluate(back, voc_gt).to_dict()
    assert a["coco"] == pytest.approx(b["coco"], abs=1e-6)
    assert a["voc07_11point"] == pytest.approx(b["voc07_11point"], abs=1e-9)


def test_darknets_trailing_comma_json_is_accepted(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[\n{"image_id":1, "category_id":1, "bbox":[1, 2, 3, 4], "score":0.5},\n]\n')
    assert len(read_coco_results(p)) == 1


def test_imagenet_file_round_trips(tmp_path, voc_dets, voc_gt):
    path = write_imagenet_results(voc_dets, tmp_path / "imagenet-detection.txt", voc_gt.images)
    first = path.read_text().splitlines()[0].split()
    assert len(first) == 7 and first[0].isdigit() and first[1].isdigit()
    back = read_imagenet_results(path, voc_gt.images, 4)
    assert evaluate(back, voc_gt, "voc07").map07 == pytest.approx(evaluate(voc_dets, voc_gt, "voc07").map07)


def test_coco_image_id_is_the_number_after_the_last_underscore():
    assert coco_image_id("/data/coco/images/val2014/COCO_val2014_000000000042.jpg") == 42
    assert coco_image_id("/x/123.jpg") == 123


def test_result_file_for_a_class_not_in_names_is_an_error(tmp_path):
    p = tmp_path / "comp4_det_test_zebra.txt"
    p.write_text("img0 0.5 1 1 2 2\n")
    with pytest.raises(DataError, match="zebra"):
        read_voc_results([p], ["cat", "dog"])


def test_malformed_voc_line_is_reported_with_its_number(tmp_path):
    p = tmp_path / "comp4_det_test_cat.txt"
    p.write_text("img0 0.5 1 1 2 2\nimg1 0.5 1 1 2\n")
    with pytest.raises(DataError) as err:
        read_voc_results([p], ["cat"])
    assert err.value.line == 2 and str(p) in str(err.value)
    p.write_text("img0 0.5 1 1 2 2\n\nimg1 x 1 1 2 2\n")
    with pytest.raises(DataError) as err:
        read_voc_results([p], ["cat"])
    assert err.value.line == 3


def test_malformed_coco_record_names_its_line(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[\n{"image_id":1, "category_id":1, "bbox":[1, 2, 3, 4], "score":0.5},\n'
                 '{"image_id":1, "category_id":1, "bbox":[1, 2, 3], "score":0.5}\n]\n')
    with pytest.raises(DataError) as err:
        read_coco_results(p)
    assert err.value.line == 3
    records = [{"image_id": 5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}]
    with pytest.raises(DataError, match="image_id 5"):
        resolve_coco_results(records, {1: "a"}, [1])
    records[0]["image_id"] = 1
    records[0]["category_id"] = 2
    with pytest.raises(DataError, match="category_id 2"):
        resolve_coco_results(records, {1: "a"}, [1])


def test_detection_on_an_image_outside_the_ground_truth_is_an_error(voc_gt):
    d = Detections.from_records([("nowhere", 0, 0.5, 0, 0, 1, 1)])
    with pytest.raises(DataError, match="nowhere"):
        evaluate(d, voc_gt)


def test_missing_label_file_is_an_error(tmp_path):
    (tmp_path / "list.txt").write_text("images/a.jpg\n")
    with pytest.raises(DataError, match="no label file"):
        gt_from_labels(tmp_path / "list.txt", ["cat"], default_size=(10, 10))


def test_label_ground_truth_reads_image_sizes_from_headers(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for ext in ("jpg", "png", "bmp"):
        cv2.imwrite(str(tmp_path / "images" / f"a_{ext}.{ext}"), np.zeros((30, 40, 3), np.uint8))
        assert image_size(tmp_path / "images" / f"a_{ext}.{ext}") == (40, 30)
        (tmp_path / "labels" / f"a_{ext}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (tmp_path / "list.txt").write_text("".join(f"{tmp_path}/images/a_{e}.{e}\n" for e in ("jpg", "png", "bmp")))
    gt = gt_from_labels(tmp_path / "list.txt", ["cat"])
    assert np.allclose(gt.box, [[10, 7.5, 30, 22.5]] * 3)
    assert gt.images == ["a_jpg", "a_png", "a_bmp"]


def test_coco_json_ground_truth_reads_crowd_and_area(tmp_path):
    from darkpy.eval.groundtruth import gt_from_coco

    p = tmp_path / "gt.json"
    p.write_text(json.dumps({"images": [{"id": 4, "file_name": "x/b_4.jpg"}], "categories": [{"id": 2, "name": "cat"}],
                             "annotations": [{"id": 1, "image_id": 4, "category_id": 2, "bbox": [1, 2, 3, 4],
                                              "area": 7.0, "iscrowd": 1}]}))
    gt = gt_from_coco(p)
    assert gt.images == ["b_4"] and gt.names == ["cat"] and gt.category_ids == [2]
    assert gt.crowd.tolist() == [True] and gt.area.tolist() == [7.0] and gt.box.tolist() == [[1, 2, 4, 6]]


def test_writers_drop_zero_scores_and_clamp_like_darknet(tmp_path):
    d = Detections.from_records([("a_1", 0, 0.0, 1, 1, 5, 5), ("a_1", 0, 0.25, -3, -2, 120, 50)])
    (voc,) = write_voc_results(d, ["cat"], tmp_path, sizes={"a_1": (100, 40)})
    assert voc.read_text() == "a_1 0.250000 1.000000 1.000000 100.000000 40.000000\n"
    coco = write_coco_results(d, tmp_path / "c.json", {"a_1": 1}, [5], sizes={"a_1": (100, 40)})
    assert json.loads(coco.read_text()) == [{"image_id": 1, "category_id": 5, "bbox": [0, 0, 100, 40], "score": 0.25}]
    inet = write_imagenet_results(d, tmp_path / "i.txt", ["a_1"], sizes={"a_1": (100, 40)})
    assert inet.read_text() == "1 1 0.250000 0.000000 0.000000 100.000000 40.000000\n"


def test_network_output_becomes_detections_in_darknets_print_order():
    from darkpy.boxes import center_to_corners

    box = center_to_corners(np.array([[50, 40, 20, 10], [10, 10, 4, 4]], np.float64))
    assert box.tolist() == [[40, 35, 60, 45], [8, 8, 12, 12]]
    d = Detections.from_probs("img", box, np.array([[0.0, 0.7, 0.2], [0.9, 0.0, 0.0]]))
    assert d.cls.tolist() == [1, 2, 0] and d.score.tolist() == [0.7, 0.2, 0.9]
    assert d.box[2].tolist() == [8, 8, 12, 12] and list(d.image) == ["img"] * 3
