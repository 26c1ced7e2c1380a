"""`darkpy valid`, `darkpy map DATA CFG WEIGHTS` and `darkpy recall` on a hand-weighted detector.

The expected numbers follow from tests/eval/netdata.py: class 0 finds 2 of its 3 objects at
full confidence, class 1 both of its 2."""
from __future__ import annotations

import json

import pytest
import torch

import darkpy
from darkpy.eval.resultfiles import read_coco_results
from darkpy.eval.run import run_detector

from tests.eval.netdata import make_valid_set


@pytest.fixture(scope="module")
def vset(tmp_path_factory):
    return make_valid_set(tmp_path_factory.mktemp("vset"))


def _net_args(s):
    return s["data"], s["cfg"], s["weights"]


def test_run_detector_gives_the_known_boxes(vset):
    net = darkpy.load_network(vset["cfg"], vset["weights"], device="cpu")
    entries = vset["list"].read_text().split()
    res = run_detector(net, entries, batch=3)
    assert res.keys == ["img_1", "img_2", "img_3", "img_4"] and res.sizes["img_3"] == (128, 128)
    got = sorted((d.image, d.cls, round(d.x1, 3), round(d.y1, 3), round(d.x2, 3), round(d.y2, 3))
                 for d in res.dets)
    assert got == [("img_1", 0, 0, 0, 64, 64), ("img_2", 1, 64, 64, 128, 128),
                   ("img_3", 0, 64, 0, 128, 64), ("img_3", 1, 0, 64, 64, 128)]
    assert all(d.prob > 0.99 for d in res.dets)


def test_map_of_the_network_gives_the_expected_ap(cli, vset, tmp_path):
    code, out, err = cli("map", *_net_args(vset), "--workers", "0", "--out", tmp_path)
    assert code == 0, err
    rep = json.loads((tmp_path / "map.json").read_text())
    assert rep["voc_area"]["yellowish"] == pytest.approx(2 / 3)
    assert rep["voc07_11point"]["yellowish"] == pytest.approx(7 / 11)
    assert rep["voc_area"]["purplish"] == pytest.approx(1.0)
    assert rep["voc07_11point"]["purplish"] == pytest.approx(1.0)
    assert rep["voc_area"]["mAP"] == pytest.approx(5 / 6)
    assert rep["coco"]["AP50"] == pytest.approx((67 / 101 + 1) / 2)
    assert rep["classes"]["yellowish"]["tp"] == 2 and rep["classes"]["yellowish"]["fn"] == 1
    for column in ("AP07", "AP", "AP.5:.95", "AP50", "AP75"):
        assert column in out
    assert "mAP VOC area = 0.8333" in out
    assert (tmp_path / "pr_curves.png").is_file() and (tmp_path / "pr_yellowish.png").is_file()
    assert (tmp_path / "comp4_det_test_yellowish.txt").is_file()


def test_valid_files_score_like_map(cli, vset, tmp_path):
    code, out, err = cli("valid", *_net_args(vset), "--workers", "0", "--out", tmp_path / "valid",
                         "--batch", "2")
    assert code == 0, err
    lines = (tmp_path / "valid" / "comp4_det_test_yellowish.txt").read_text().splitlines()
    assert lines == ["img_1 0.993262 1.000000 1.000000 65.000000 65.000000",
                     "img_3 0.993262 65.000000 1.000000 128.000000 65.000000"]
    code, _, err = cli("map", "--results", tmp_path / "valid", "--gt", vset["list"], "--names", vset["names"],
                       "--out", tmp_path / "files")
    assert code == 0, err
    code, _, err = cli("map", *_net_args(vset), "--workers", "0", "--out", tmp_path / "net")
    assert code == 0, err
    a = json.loads((tmp_path / "files" / "map.json").read_text())
    b = json.loads((tmp_path / "net" / "map.json").read_text())
    assert a == b


def test_valid_coco_json_with_map_ids_scores_the_same(cli, tmp_path):
    ids = tmp_path / "ids.map"
    ids.write_text("7\n9\n")
    s = make_valid_set(tmp_path / "set", data_extra=f"eval = coco\nmap = {ids}\n")
    code, out, err = cli("valid", *_net_args(s), "--workers", "0")
    assert code == 0, err
    path = tmp_path / "set" / "results" / "coco_results.json"
    recs = read_coco_results(path)
    assert sorted((r["image_id"], r["category_id"]) for r in recs) == [(1, 7), (2, 9), (3, 7), (3, 9)]
    assert recs[0]["bbox"] == [0.0, 0.0, 64.0, 64.0]
    code, _, err = cli("map", "--results", path, "--gt", s["list"], "--names", s["names"],
                       "--category-map", ids,
                       "--out", tmp_path / "files")
    assert code == 0, err
    code, _, err = cli("map", *_net_args(s), "--workers", "0", "--out", tmp_path / "net")
    assert code == 0, err
    a = json.loads((tmp_path / "files" / "map.json").read_text())
    b = json.loads((tmp_path / "net" / "map.json").read_text())
    assert a == b and a["voc_area"]["yellowish"] == pytest.approx(2 / 3)


def test_valid_imagenet_layout(cli, tmp_path):
    s = make_valid_set(tmp_path / "set", data_extra="eval = imagenet\n")
    code, out, err = cli("valid", *_net_args(s), "--workers", "0")
    assert code == 0, err
    lines = sorted((tmp_path / "set" / "results" / "imagenet-detection.txt").read_text().splitlines())
    assert lines == ["1 1 0.993262 0.000000 0.000000 64.000000 64.000000",
                     "2 2 0.993262 64.000000 64.000000 128.000000 128.000000",
                     "3 1 0.993262 64.000000 0.000000 128.000000 64.000000",
                     "3 2 0.993262 0.000000 64.000000 64.000000 128.000000"]
    code, out, err = cli("map", *_net_args(s), "--workers", "0", "--out", tmp_path / "net", "--metric", "voc")
    assert code == 0, err
    assert json.loads((tmp_path / "net" / "map.json").read_text())["voc_area"]["mAP"] == pytest.approx(5 / 6)


def test_recall_gives_the_expected_numbers(cli, vset, tmp_path):
    code, out, err = cli("recall", *_net_args(vset), "--workers", "0", "--json", tmp_path / "r.json")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["0", "1", "1"]
    assert lines[3] == "    3     4     5\tRPs/Img: 1.00\tIOU: 80.00%\tRecall:80.00%"
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["recall"] == pytest.approx(0.8) and rep["avg_iou"] == pytest.approx(0.8)
    assert rep["proposals"] == 4 and rep["objects"] == 5 and rep["found"] == 4


# -- bad input ---------------------------------------------------------------------------------

def test_data_without_valid_is_a_clear_error(cli, vset, tmp_path):
    data = tmp_path / "novalid.data"
    data.write_text(f"classes = 2\nnames = {vset['names']}\n")
    for command in ("valid", "map", "recall"):
        code, out, err = cli(command, data, vset["cfg"], vset["weights"])
        assert code == 2 and "valid=" in err and "novalid.data" in err


def test_missing_image_is_skipped_with_a_message(cli, tmp_path):
    s = make_valid_set(tmp_path / "set")
    (tmp_path / "set" / "images" / "img_2.png").unlink()
    code, out, err = cli("map", *_net_args(s), "--workers", "0", "--out", tmp_path / "net", "--metric", "voc")
    assert code == 0, err
    assert "1 unreadable images skipped" in out
    assert "skipping" in out + err and "img_2.png" in out + err
    rep = json.loads((tmp_path / "net" / "map.json").read_text())
    assert rep["images"] == 3 and rep["voc_area"]["purplish"] == pytest.approx(1.0)
    assert rep["classes"]["purplish"]["positives"] == 1


def test_missing_labels_name_the_file(cli, tmp_path):
    s = make_valid_set(tmp_path / "set")
    (tmp_path / "set" / "labels" / "img_3.txt").unlink()
    for command in ("map", "recall"):
        code, out, err = cli(command, *_net_args(s), "--workers", "0")
        assert code == 2 and "img_3" in err and "label" in err
    code, out, err = cli("valid", *_net_args(s), "--workers", "0")  # valid needs no labels
    assert code == 0, err


def test_names_short_of_the_network_classes(cli, tmp_path):
    s = make_valid_set(tmp_path / "set")
    s["names"].write_text("only\n")
    code, out, err = cli("valid", *_net_args(s), "--workers", "0")
    assert code == 2 and "1 names" in err


def test_map_table_on_a_wordtree_network(golden, tmp_path):
    """`map=` with a tree: class j = objectness × absolute probability of node map[j] (no tree walk)."""
    import numpy as np

    from darkpy.detect.decode import decode_region
    from darkpy.detect.decode import decode_mapped, tree_map_applies

    net = darkpy.load_network(golden / "cfg" / "g_tree_mini.cfg", device="cpu", seed=3)
    assert tree_map_applies(net)
    layer = net.detection_layers[0]
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outs = [net.forward_all(x)[layer.index]]
    cmap = [4, 0, 8, 2]
    raws = decode_mapped([layer], outs, 64, 64, [(64, 64), (128, 64)], 0.005, cmap)
    _, obj, _ = decode_region(layer, outs[0], 0.005)
    gh, gw = outs[0].shape[2:]
    v = outs[0].reshape(2, layer.num, 4 + 1 + layer.classes, gh, gw)
    parent = list(layer.tree.parent)
    for b in range(2):
        for m in range(layer.num * gh * gw):
            n, cell = divmod(m, gh * gw)
            r, c = divmod(cell, gw)
            cond = v[b, n, 5:, r, c].double().numpy()
            scale = float(v[b, n, 4, r, c])

            def absolute(node):
                p = 1.0
                while node >= 0:
                    p *= cond[node]
                    node = parent[node]
                return p

            want = np.array([scale * absolute(k) for k in cmap])
            want[want <= 0.005] = 0
            assert np.allclose(raws[b].probs[m].double().numpy(), want, atol=1e-6)
            assert float(raws[b].objectness[m]) == pytest.approx(float(obj[b, m]))



def test_valid_with_a_map_table_writes_the_mapped_classes(cli, golden, tmp_path):
    import cv2
    import numpy as np

    net = darkpy.load_network(golden / "cfg" / "g_tree_mini.cfg", device="cpu", seed=3)
    weights = net.save_weights(tmp_path / "tree.weights")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"im_{i + 1}.png")
        cv2.imwrite(str(paths[-1]), rng.integers(0, 256, (48, 80, 3), dtype=np.uint8))
    (tmp_path / "valid.txt").write_text("\n".join(map(str, paths)) + "\n")
    (tmp_path / "inet.map").write_text("4\n0\n8\n2\n")
    data = tmp_path / "t.data"
    data.write_text(f"classes=4\nvalid={tmp_path / 'valid.txt'}\nnames={golden / 'cfg' / 'mini.names'}\n"
                    f"map={tmp_path / 'inet.map'}\neval=imagenet\nresults={tmp_path / 'res'}\n")
    code, out, err = cli("valid", data, golden / "cfg" / "g_tree_mini.cfg", weights, "--workers", "0")
    assert code == 0, err
    rows = [line.split() for line in (tmp_path / "res" / "imagenet-detection.txt").read_text().splitlines()]
    assert rows and {int(r[0]) for r in rows} <= {1, 2, 3} and {int(r[1]) for r in rows} <= {1, 2, 3, 4}
    assert len({int(r[1]) for r in rows}) > 1


def test_map_network_mode_refuses_result_file_options(cli, vset):
    code, out, err = cli("map", *_net_args(vset), "--gt", vset["list"])
    assert code == 2 and "--gt" in err
    code, out, err = cli("map", vset["data"], vset["cfg"])
    assert code == 2 and "DATA CFG WEIGHTS" in err


def test_as_voc_written_matches_a_file_round_trip(tmp_path):
    import numpy as np

    from darkpy.eval.detections import Detections
    from darkpy.eval.resultfiles import as_voc_written, read_voc_results, write_voc_results

    rng = np.random.default_rng(1)
    n = 500
    x1 = rng.uniform(-50, 400, n)
    y1 = rng.uniform(-50, 300, n)
    box = np.stack([x1, y1, x1 + rng.uniform(1, 200, n), y1 + rng.uniform(1, 200, n)], 1)
    score = rng.random(n)
    score[::17] = 0
    dets = Detections(rng.choice(["a", "b", "c"], n).astype(object), rng.integers(0, 3, n), score, box)
    sizes = {"a": (320, 240), "b": (500, 375), "c": (64, 48)}
    files = write_voc_results(dets, ["x", "y", "z"], tmp_path, sizes=sizes)
    back = read_voc_results(files, ["x", "y", "z"])
    mine = as_voc_written(dets, sizes)
    order_a = np.lexsort((back.score, back.box[:, 0], back.cls, back.image.astype(str)))
    order_b = np.lexsort((mine.score, mine.box[:, 0], mine.cls, mine.image.astype(str)))
    assert len(back) == len(mine) == np.count_nonzero(score)
    assert np.array_equal(back.box[order_a], mine.box[order_b])
    assert np.array_equal(back.score[order_a], mine.score[order_b])


def test_default_coco_ids_follow_darknets_table():
    from darkpy.eval.resultfiles import COCO_IDS, default_category_ids

    assert default_category_ids(80) == COCO_IDS
    assert default_category_ids(20)[10:13] == [11, 13, 14]
    assert default_category_ids(100) == list(range(1, 101))
