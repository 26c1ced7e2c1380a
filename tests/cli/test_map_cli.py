"""`darkpy map --results`: golden numbers through the CLI, files written, one-line errors."""
from __future__ import annotations

import json


def test_map_scores_voc_files_against_xml_and_writes_json_and_charts(cli, golden, tmp_path):
    ev = golden / "eval"
    files = sorted(str(p) for p in ev.glob("comp4_det_test_*.txt"))
    code, out, err = cli("map", "--results", *files, "--gt", ev / "test.txt", "--names", ev / "names.txt",
                         "--annotations", ev / "Annotations", "--out", tmp_path)
    assert code == 0, err
    assert "cat" in out and "0.6092" in out and "Average Precision" in out
    data = json.loads((tmp_path / "map.json").read_text())
    expected = json.loads((ev / "expected.json").read_text())
    for name, value in expected["voc07_11point"].items():
        assert (data["voc07_11point"][name] is None) == (value is None)
        if value is not None:
            assert abs(data["voc07_11point"][name] - value) < 1e-4
    for key, value in expected["coco"].items():
        assert abs(data["coco"][key] - value) < 1e-4
    assert (tmp_path / "pr_curves.png").is_file() and (tmp_path / "pr_cat.png").is_file()


def test_map_scores_coco_json_with_a_quoted_glob_free_call(cli, golden):
    ev = golden / "eval"
    code, out, err = cli("map", "--results", ev / "coco_results.json", "--gt", ev / "coco_gt.json",
                         "--metric", "coco")
    assert code == 0, err
    assert "0.276" in out and "AP07" not in out


def test_map_accepts_a_quoted_glob_and_label_ground_truth(cli, golden):
    ev = golden / "eval"
    code, out, err = cli("map", "--results", f"{ev}/comp4_det_test_*.txt", "--gt", ev / "test.txt",
                         "--names", ev / "names.txt", "--image-size", "500x375", "--metric", "voc07")
    assert code == 0, err
    assert "mAP VOC07 11-point" in out


def test_map_result_class_missing_from_names_exits_2(cli, golden, tmp_path):
    ev = golden / "eval"
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\nbike\n")
    code, _, err = cli("map", "--results", ev / "comp4_det_test_ghost.txt", "--gt", ev / "test.txt",
                       "--names", names, "--annotations", ev / "Annotations")
    assert code == 2 and "ghost" in err


def test_map_without_results_or_truth_is_a_usage_error(cli, golden):
    code, _, err = cli("map", "--gt", golden / "eval" / "test.txt")
    assert code == 2 and "--results" in err
    code, _, err = cli("map", "--results", golden / "eval" / "coco_results.json")
    assert code == 2 and "--gt" in err
    code, _, err = cli("map", "--results", golden / "eval" / "coco_results.json", "--gt",
                       golden / "eval" / "coco_gt.json", "--metric", "ap")
    assert code == 2 and "unknown metric" in err


def test_map_takes_a_results_folder_and_ignores_its_own_json(cli, golden, tmp_path):
    import shutil

    ev = golden / "eval"
    for p in ev.glob("comp4_det_test_*.txt"):
        shutil.copy(p, tmp_path / p.name)
    args = ["map", "--results", tmp_path, "--gt", ev / "test.txt", "--names", ev / "names.txt",
            "--annotations", ev / "Annotations", "--metric", "voc07", "--out", tmp_path]
    code, out, err = cli(*args)
    assert code == 0, err
    code, out2, err = cli(*args)  # map.json now sits beside the results
    assert code == 0, err
    assert "0.6158" in out2


def test_coco_results_against_a_list_whose_names_give_no_ids_is_refused(cli, golden):
    ev = golden / "eval"
    code, _, err = cli("map", "--results", ev / "coco_results.json", "--gt", ev / "test.txt",
                       "--names", ev / "names.txt", "--annotations", ev / "Annotations")
    assert code == 2 and "collide" in err
