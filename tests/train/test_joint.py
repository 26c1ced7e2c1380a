"""YOLO9000 joint training: classification-only images next to detection images (mini.tree)."""
from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from darkpy.net.model import load_network
from darkpy.train import joint
from darkpy.train.detection.train import TrainOptions, read_training_data
from darkpy.train.detection.loader import Request, read_image_list
from joint_data import CAT, DOG, make_data, write_cfg


def _task(cfg, data, class_ratio=None, batch_images=4, seed=0):
    net = load_network(cfg, device="cpu", seed=0)
    opts = TrainOptions(data=str(data), cfg=str(cfg), workers=0, class_ratio=class_ratio, seed=seed)
    config = read_training_data(data)
    task = joint.make_detection_task(net, read_image_list(config.train), config, opts)
    trainer = SimpleNamespace(net=net, seed=seed, images_per_step=batch_images)
    return net, task, task.make_source(trainer)


# -- (1) the gradient of a classification-only image -------------------------------------------

@pytest.mark.parametrize("noobject", [0.0, 1.0])
def test_class_only_image_trains_only_its_class_at_one_anchor(tmp_path, noobject):
    cfg = write_cfg(tmp_path, noobject_scale=noobject)
    files = make_data(tmp_path, n_det=2, n_cls=2, markers=1, mixed=True, classify_list=False)
    net, task, source = _task(cfg, files["data"])
    assert isinstance(task, joint.JointTask)
    # one detection image and one classification-only image (path rule), through the loader
    source.paths = [files["det"][0]]
    images_d, truth_d, _ = source.load(Request(0, 0, 1, 64, 64))
    source.paths = [files["cls"][0]]
    images_c, truth_c, warn = source.load(Request(0, 1, 1, 64, 64))
    assert not warn
    assert truth_c[0, 0].tolist() == [1e6, 1e6, 1.0, 1.0, CAT] and not truth_c[0, 1:].any()
    assert truth_d[0, 0, 0] < 1 and truth_d[0, 0, 4] == DOG
    images, truth = torch.cat([images_d, images_c]), torch.cat([truth_d, truth_c])
    assert joint.count_class_only(truth) == 1

    _, inputs = net.forward_with_inputs(images)
    (index, raw), = inputs.items()
    raw = raw.detach().requires_grad_(True)
    loss = task.losses[index]
    r = loss(raw, truth, seen=0)           # seen 0: the warm-up toward anchors is on for boxes
    r.loss.backward()
    g = raw.grad.reshape(2, 3, 5 + 9, 4, 4)
    gc = g[1]                              # the classification-only image
    assert torch.count_nonzero(gc[:, :4]) == 0, "no coordinate gradient"
    cls_nonzero = (gc[:, 5:] != 0).any(dim=1)          # (anchor, row, col)
    assert int(cls_nonzero.sum()) == 1, "class gradient at exactly one anchor/cell"
    a, j, i = (int(v) for v in cls_nonzero.nonzero()[0])
    # that anchor/cell is the most confident one for obj * P(cat) along the tree
    out = loss.region.activate(raw.detach()).reshape(2, 3, 14, 4, 4)[1]
    p = out[:, 4] * out[:, 5 + 0] * out[:, 5 + 2] * out[:, 5 + CAT]
    assert (a, j, i) == tuple(int(v) for v in np.unravel_index(int(p.argmax()), p.shape))
    # hierarchical: the groups on cat's path (thing/place, animal/plant/rock, dog/cat) get gradient,
    # the place group (city, lake) does not
    touched = (gc[a, 5:, j, i] != 0).tolist()
    assert touched == [True, True, True, True, True, False, False, True, True]
    if noobject == 0:
        assert torch.count_nonzero(gc[:, 4]) == 0, "no objectness gradient"
    else:
        # Darknet pushes objectness to 0 (noobject_scale) everywhere except at the chosen anchor
        assert gc[a, 4, j, i] == 0
        assert torch.count_nonzero(gc[:, 4]) == 3 * 16 - 1
    # the detection image has box gradients as usual
    assert torch.count_nonzero(g[0, :, :4]) > 0


# -- (2) augmentation leaves the marker alone -----------------------------------------------------

def test_augmentation_passes_marker_rows_through():
    img = np.random.default_rng(0).random((30, 50, 3), dtype=np.float32)
    boxes = np.array([[DOG, 0.5, 0.5, 0.2, 0.2]], np.float32)
    marks = joint.class_only_row(CAT, 0.7, 0.3)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        image, truth = joint.augment_joint(img, boxes, marks, rng, 32, 32, max_boxes=5, jitter=0.3, hue=0.1,
                                           saturation=1.5, exposure=1.5)
        assert image.shape == (3, 32, 32)
        assert truth[0].tolist() == pytest.approx([1e6, 1e6, 0.7, 0.3, CAT])
        assert not truth[1:].any(), "never mixed with boxes"
        # the image is augmented exactly as an image without labels would be
        ref, _ = joint.augment_joint(img, np.zeros((0, 5), np.float32), np.zeros((0, 5), np.float32),
                                     np.random.default_rng(seed), 32, 32, max_boxes=5, jitter=0.3, hue=0.1,
                                     saturation=1.5, exposure=1.5)
        assert np.array_equal(image, ref)


def test_label_file_markers_are_read_and_reported():
    text = "8 1000000 1000000 1 1\n7 0.5 0.5 0.2 0.2\n3 1000000 1000000\n12 1e6 1e6 1 1\n"
    boxes, marks, problems = joint.split_label_text(text, "x.txt", 9)
    assert marks.tolist() == [[1e6, 1e6, 1.0, 1.0, 8.0]]
    assert boxes[0].tolist() == pytest.approx([7, 0.5, 0.5, 0.2, 0.2]) and len(boxes) == 1
    assert any("x.txt:3:" in p for p in problems)
    assert any("x.txt:4:" in p and "out of range" in p for p in problems)


def test_marker_label_file_in_the_mixed_list(tmp_path):
    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=1, n_cls=0, markers=1, classify_list=False)
    _, _, source = _task(cfg, files["data"])
    source.paths = files["marks"]
    _, truth, warn = source.load(Request(3, 0, 2, 64, 64))
    assert not warn
    assert truth[:, 0].tolist() == [[1e6, 1e6, 1, 1, CAT]] * 2


# -- (3) the class from the path -------------------------------------------------------------------

def test_class_from_path_rule(tmp_path):
    rule = joint.PathClasses(["n0001", "n0008", "n0009"])
    assert rule.classify("/data/inet/n0009/a.jpg") == (2, [2])
    cls, found = rule.classify("/data/inet/other/a.jpg")
    assert cls is None and found == []
    assert "no entry" in rule.describe_bad("/data/inet/other/a.jpg", found)
    cls, found = rule.classify("/data/n0008/n0009_1.jpg")
    assert cls is None and found == [1, 2]
    assert "'n0008', 'n0009'" in rule.describe_bad("p", found)
    mapped = joint.PathClasses(["n0001", "n0008", "n0009"], [4, 7, 8])
    assert mapped.classify("/x/n0008/y.png")[0] == 7
    kept, classes, bad = joint.assign_classes(["/a/n0009/1.png", "/a/none.png", "/a/n0001n0008.png"], mapped)
    assert kept == ["/a/n0009/1.png"] and classes == [8] and len(bad) == 2


def test_ambiguous_path_in_the_train_list_is_reported_not_guessed(tmp_path):
    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=1, n_cls=1, classify_list=False)
    import shutil

    two = tmp_path / "inet" / "n0008" / "n0009.png"
    two.parent.mkdir(parents=True)
    shutil.copy(files["cls"][0], two)
    _, _, source = _task(cfg, files["data"])
    source.paths = [str(two), files["det"][0]]
    _, truth, warn = source.load(Request(0, 0, 6, 64, 64))
    assert any("several labels" in text for _, text in warn)
    assert (truth[:, 0, 4] == DOG).all(), "only the detection image was used"


def test_classify_list_with_unmatched_paths(tmp_path, capsys):
    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=2, n_cls=3)
    clist = tmp_path / "classify.list"
    clist.write_text(clist.read_text() + str(tmp_path / "det" / "images" / "d00.png") + "\n")
    _, task, _ = _task(cfg, files["data"])
    assert len(task.cls_paths) == 3 and task.cls_classes == [CAT] * 3
    assert "1 of 4 classification images left out" in capsys.readouterr().err


# -- (4) the sampling ratio -------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [4, 1, 0.5, 2.5])
def test_sampling_ratio_is_respected(ratio):
    r = joint.effective_ratio(ratio, 10, 10000)
    n_cls = n_det = 0
    for g in range(5000):
        if joint.slot_is_classification(g, r):
            n_cls += 1
        else:
            n_det += 1
        assert n_cls <= ratio * max(n_det, 1) + 1e-9
    assert n_cls / n_det == pytest.approx(ratio, rel=2e-3)
    # capped by the lists' own proportion, and 0 means detection only
    assert joint.effective_ratio(4, 100, 50) == Fraction(1, 2)
    assert not any(joint.slot_is_classification(g, joint.effective_ratio(0, 1, 9)) for g in range(100))


def test_sampling_is_deterministic_and_worker_safe(tmp_path):
    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=3, n_cls=12)
    _, task, source = _task(cfg, files["data"], class_ratio=3, batch_images=8)
    assert task.ratio == 3
    kinds = [source.slot_kind(it, s) for it in range(50) for s in range(8)]
    assert kinds.count("classify") == 3 * kinds.count("train")
    # a request answered whole equals the same slots answered one by one (any worker, any order)
    _, whole, _ = source.load(Request(7, 0, 8, 64, 64))
    parts = [source.load(Request(7, s, 1, 64, 64))[1] for s in reversed(range(8))][::-1]
    assert torch.equal(whole, torch.cat(parts))
    assert joint.count_class_only(whole) == sum(k == "classify" for k in kinds[56:64])


def test_class_ratio_needs_a_classify_list(tmp_path):
    from darkpy.errors import UsageError

    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=2, n_cls=2, classify_list=False)
    with pytest.raises(UsageError):
        _task(cfg, files["data"], class_ratio=2)


# -- (5) end to end through the CLI -----------------------------------------------------------------

def _cat_scores(cfg, weights, paths):
    """Per classification image: the best cell's P(cat) along the tree (thing * animal|thing *
    cat|animal) and the mean of P(cat | animal) over all anchors and cells."""
    import cv2

    net = load_network(cfg, weights, device="cpu", seed=0)
    x = torch.stack([torch.from_numpy(cv2.resize(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB), (64, 64))
                                      .astype(np.float32).transpose(2, 0, 1) / 255) for p in paths])
    with torch.no_grad():
        out = net(x).reshape(len(paths), 3, 14, 4, 4)
    path_p = out[:, :, 5 + 0] * out[:, :, 5 + 2] * out[:, :, 5 + CAT]
    return path_p.flatten(1).amax(1), out[:, :, 5 + CAT].mean()


def test_joint_training_runs_end_to_end_and_learns_the_class(cli, tmp_path):
    cfg = write_cfg(tmp_path, batch=8, max_batches=8)
    files = make_data(tmp_path, n_det=6, n_cls=8, markers=1)
    before, cond_before = _cat_scores(cfg, None, files["cls"])
    code, out, err = cli("train", cfg, "--data", files["data"], "--workers", "0", "--class-ratio", "1",
                         "--seed", "0", "--max-batches", "8")
    assert code == 0, err
    text = out + err
    assert "joint training: 8 classification images, at most 1 per detection image" in text
    lines = [line for line in text.splitlines() if "cls-only" in line]
    assert len(lines) == 8
    # ratio 1 over 8 slots: 4 from the classify list, plus the marker images drawn from train.list
    counts = [float(line.split("cls-only ")[1].split()[0]) for line in lines]
    assert all(4 <= c <= 8 for c in counts)
    weights = tmp_path / "backup" / "tree_final.weights"
    assert weights.exists()
    after, cond_after = _cat_scores(cfg, weights, files["cls"])
    # modest (measured: 0.087 -> 0.28 on average): the best cell's P(cat) along the tree rises by
    # half for every cat image, and P(cat | animal) over the whole grid rises too
    assert (after > before * 1.5).all()
    assert cond_after > cond_before


def test_cfg_map_applies_to_boxes_only(tmp_path):
    """yolo9000.cfg has `map = coco9k.map` (80 entries) for COCO boxes; a classification-only label
    carries a tree index (Darknet maps box classes only), so it must not be checked against the map."""
    cfg = write_cfg(tmp_path)
    cfg.write_text(cfg.read_text().replace("tree=mini.tree", "tree=mini.tree\nmap=two.map"))
    (tmp_path / "two.map").write_text("7\n8\n")
    net = load_network(cfg, device="cpu", seed=0)
    from darkpy.train.detection.loss import RegionLoss

    loss = RegionLoss(net.detection_layers[-1])
    raw = torch.zeros(2, 42, 4, 4)
    truth = torch.zeros(2, 2, 5)
    truth[0, 0] = torch.tensor([0.5, 0.5, 0.3, 0.3, 1])        # box of dataset class 1 -> tree 8
    truth[1, 0] = torch.tensor([1e6, 1e6, 1, 1, 6])            # lake, a tree index beyond the map
    loss(raw, truth, 0)
    truth[0, 0, 4] = 2
    with pytest.raises(ValueError, match="outside 0..1"):
        loss(raw, truth, 0)


def test_darknet_form_class_only_labels_train_the_class(tmp_path):
    """Darknet writes classification-only labels as `class 0 0 w h`: they train the class (not as
    'no objects'), exactly as the x, y >= 1e5 form does."""
    cfg = write_cfg(tmp_path)
    files = make_data(tmp_path, n_det=1, n_cls=0, markers=2, classify_list=False)
    for p in files["marks"]:
        label = p.replace("/images/", "/labels/").replace(".png", ".txt")
        with open(label, "w") as fh:
            fh.write(f"{CAT} 0 0 0.8 0.6\n")
    net, task, source = _task(cfg, files["data"])
    source.paths = files["marks"]
    images, truth, warn = source.load(Request(0, 0, 2, 64, 64))
    assert not warn
    assert truth[:, 0].tolist() == [[1e6, 1e6, pytest.approx(0.8), pytest.approx(0.6), CAT]] * 2
    assert joint.count_class_only(truth) == 2
    _, inputs = net.forward_with_inputs(images)
    (index, raw), = inputs.items()
    raw = raw.detach().requires_grad_(True)
    r = task.losses[index](raw, truth, seen=0)
    r.loss.backward()
    g = raw.grad.reshape(2, 3, 5 + 9, 4, 4)
    for k in range(2):
        assert torch.count_nonzero(g[k, :, 5:]) > 0, "class loss on a Darknet-form class-only image"
        assert torch.count_nonzero(g[k, :, :4]) == 0, "no box loss"
