from __future__ import annotations

import numpy as np
import pytest
import torch

import darkpy
import cls_reference as R
from cls_helpers import mini_tree_classifier
from darkpy.classify.labels import read_classifier_data
from darkpy.classify.predict import predict_images, predict_tensor, top_k
from darkpy.classify.validate import ValidResult, validate

@pytest.mark.golden
@pytest.mark.parametrize("name", ["g_classifier_mini", "g_connected_mini"])
def test_predict_gives_darknets_top_k_order(golden, name):
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    ref = np.fromfile(folder / f"layer{net.output_index:02d}.f32", np.float32)
    k = min(5, ref.size)
    (idx, probs), = predict_tensor(net, x, k)
    assert idx == R.top_k(ref, k)
    np.testing.assert_allclose(probs, ref[idx], rtol=1e-4, atol=1e-6)


def test_top_k_ties_keep_lower_index_first():
    a = np.array([0.1, 0.3, 0.3, 0.05, 0.3, 0.2], np.float32)
    assert top_k(torch.from_numpy(a), 4).tolist() == R.top_k(a, 4) == [1, 2, 4, 5]


def test_predict_images_and_tree_order(tmp_path, color_set, tiny_cfg):
    net = darkpy.load_network(tiny_cfg(tmp_path / "t.cfg", "classifier"), device="cpu")
    preds = predict_images(net, color_set["valid"][:3], top=2)
    assert len(preds) == 3 and all(len(p.indexes) == 2 for p in preds)
    assert preds[0].probs[0] >= preds[0].probs[1]
    assert preds[0].lines(["a", "b", "c", "d"])[0].endswith(("a", "b", "c", "d"))


def test_valid_result_bookkeeping():
    r = ValidResult(k=2, classes=3)
    r.add(np.array([0, 1, 2, 2]), np.array([[0, 1], [2, 1], [1, 0], [2, 0]]))
    assert (r.count, r.top1, r.topk) == (4, 2, 3)
    rows = {row["class"]: row for row in r.per_class()}
    assert rows[2]["top1"] == 0.5 and rows[2]["confused_with"] == 1
    assert rows[1]["topk"] == 1.0 and rows[1]["top1"] == 0.0


@pytest.mark.parametrize("mode", ["center", "resize", "ten", "multi"])
def test_validate_modes_run_and_agree_with_manual_count(tmp_path, color_set, mode, tiny_cfg):
    net = darkpy.load_network(tiny_cfg(tmp_path / "t.cfg", "classifier"), device="cpu")
    d = read_classifier_data(color_set["data"])
    items = d.split("valid")
    res = validate(net, items, 2, mode=mode, scales=(32, 40), batch=5, threads=2, progress=False)
    assert res.count == len(items)
    assert 0 <= res.top1 <= res.topk <= res.count
    if mode == "center":
        preds = predict_images(net, items.paths, top=1, how="center")
        assert res.top1 == sum(p.indexes[0] == c for p, c in zip(preds, items.classes))
    assert (net.net.width, net.net.height) == (32, 32)



def tree_net(tmp_path, golden):
    cfg = mini_tree_classifier(tmp_path, golden, batch=6, subdivisions=2, learning_rate=0.01, max_batches=10)
    return darkpy.load_network(cfg, device="cpu", seed=4)


def test_tree_predictions_rank_absolute_leaf_probabilities(tmp_path, golden):
    """darknet9000-style output: conditional probabilities multiplied down the tree, leaves only."""
    net = tree_net(tmp_path, golden)
    tree = net.output_layer.tree
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        p = net(x).reshape(2, -1).numpy().astype(np.float64)
    for n, (idx, probs) in enumerate(predict_tensor(net, x, 4)):
        absolute = p[n].copy()
        for j in range(tree.n):  # Darknet's hierarchy_predictions loop
            if tree.parent[j] >= 0:
                absolute[j] *= absolute[tree.parent[j]]
        absolute[~tree.leaf] = 0
        assert idx == R.top_k(absolute.astype(np.float32), 4)
        np.testing.assert_allclose(probs, absolute[idx], rtol=1e-5)
        assert all(tree.leaf[i] for i in idx if absolute[i] > 0)


def test_tree_task_trains_on_leaf_labels(tmp_path, golden):
    import cv2

    from darkpy.classify.labels import assign_labels
    from darkpy.train.classifier.task import ClassificationTask

    net = tree_net(tmp_path, golden)
    names = (golden / "cfg" / "mini.tree").read_text().split()[::2]
    paths = []
    for i, name in enumerate(names[2:]):
        p = tmp_path / f"{name}.png"
        cv2.imwrite(str(p), np.full((20, 20, 3), 25 * i, np.uint8))
        paths.append(str(p))
    items = assign_labels(paths, names)
    task = ClassificationTask(net, items, threads=1)
    net.train()
    images, truth = next(iter(task.batches(None, 0)))
    assert (truth == -1234).any() and (truth == 1).any()
    rep = task.loss(net, images, truth, 3)
    rep.loss.backward()
    assert np.isfinite(rep.cost) and 0 <= rep.stats["top1"] <= 1
    task.close()
