import shutil

import numpy as np
import pytest

from darkpy.anchors import (
    avg_iou,
    iou_wh,
    kmeans_anchors,
    knee_point,
    load_boxes,
    read_cfg_text,
    sweep,
    write_anchors,
)
from darkpy.anchors.cfgedit import anchor_layers, format_anchors, layer_units
from darkpy.anchors.units import from_units, parse_anchor_list, to_units
from darkpy.errors import CfgError, DataError, UsageError
from tests.anchors.kmeans_reference import kmeans_reference

FAMILIES = np.array([[0.04, 0.07], [0.30, 0.18], [0.22, 0.65]])


def families(n=3000, spread=0.03, seed=0, fams=FAMILIES):
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(fams), n)
    return (fams[pick] * np.exp(rng.normal(0, spread, (n, 2)))).astype(np.float32)


def slow_avg_iou(boxes, anchors):
    """The obvious loop: every box against every anchor, keep the best, average."""
    total = 0.0
    for bw, bh in boxes:
        best = 0.0
        for aw, ah in anchors:
            inter = min(bw, aw) * min(bh, ah)
            union = bw * bh + aw * ah - inter
            best = max(best, inter / union)
        total += best
    return total / len(boxes)


# ---- IoU and average IoU


def test_iou_of_centre_aligned_boxes():
    iou = iou_wh([[2, 1]], [[1, 2], [2, 1], [4, 2]])
    assert iou[0].tolist() == pytest.approx([1 / 3, 1.0, 0.25])


def test_avg_iou_matches_reference_loop():
    rng = np.random.default_rng(3)
    boxes = rng.uniform(0.01, 1.0, (400, 2)).astype(np.float32)
    anchors = rng.uniform(0.05, 0.9, (7, 2))
    assert avg_iou(boxes, anchors) == pytest.approx(slow_avg_iou(boxes.astype(float), anchors), abs=1e-6)


def test_avg_iou_weights_equal_repeated_boxes():
    boxes = np.array([[0.1, 0.2], [0.5, 0.5]], np.float32)
    anchors = np.array([[0.3, 0.3]])
    repeated = np.repeat(boxes, [3, 1], axis=0)
    assert avg_iou(boxes, anchors, weights=[3, 1]) == pytest.approx(avg_iou(repeated, anchors))


def test_reported_avg_iou_is_the_reference_loop_on_the_anchors():
    boxes = families(600)
    res = kmeans_anchors(boxes, 4, restarts=2, seed=1)
    assert res.avg_iou == pytest.approx(slow_avg_iou(boxes.astype(float), res.anchors), abs=1e-5)


# ---- clustering


def test_recovers_three_tight_families():
    res = kmeans_anchors(families(), 3, restarts=3, seed=0)
    order = np.argsort(FAMILIES.prod(axis=1))
    np.testing.assert_allclose(res.anchors, FAMILIES[order], rtol=0.03)
    assert res.avg_iou > 0.9
    assert all(res.converged)


def test_anchors_sorted_by_area():
    res = kmeans_anchors(families(), 5, restarts=2, seed=0)
    areas = res.anchors.prod(axis=1)
    assert np.all(np.diff(areas) >= 0)
    assert res.members.sum() == 3000


def test_same_seed_same_anchors_and_restarts_never_hurt():
    boxes = families(800, spread=0.4, seed=2)
    a = kmeans_anchors(boxes, 5, restarts=3, seed=7)
    b = kmeans_anchors(boxes, 5, restarts=3, seed=7)
    np.testing.assert_array_equal(a.anchors, b.anchors)
    more = kmeans_anchors(boxes, 5, restarts=6, seed=7)  # same first 3 restarts, then more
    assert more.avg_iou >= a.avg_iou - 1e-12
    assert a.avg_iou == max(a.restart_ious)


def plain_lloyd(boxes, cents, max_iter=300):
    boxes = boxes.astype(np.float64)
    assign = None
    for _ in range(max_iter):
        new = iou_wh(boxes, cents).argmax(axis=1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        cents = np.stack([boxes[assign == j].mean(axis=0) for j in range(len(cents))])
    return cents


@pytest.mark.parametrize("seed,always_bounded", [(0, False), (1, False), (2, True), (3, True)])
def test_bounded_lloyd_matches_plain_lloyd_from_same_start(seed, always_bounded, monkeypatch):
    """The fast path (dedupe, float32, Hamerly bounds) reaches the same fixed point as the
    obvious Lloyd loop started from the same centroids."""
    from darkpy.anchors.kmeans import _lloyd, _Shapes, dedupe

    if always_bounded:  # use the bounds from the first round on, not only once boxes settle
        monkeypatch.setattr("darkpy.anchors.kmeans._BOUNDED_BELOW", 2.0)
        monkeypatch.setattr("darkpy.anchors.kmeans._RUNNER_UP_BELOW", 2.0)
    rng = np.random.default_rng(seed)
    boxes = np.round(rng.uniform(0.02, 0.9, (3000, 2)) * 200).astype(np.float32) / 200  # duplicates
    init = boxes[rng.choice(len(boxes), 6, replace=False)].astype(np.float64)
    wh, wt = dedupe(boxes)
    assert len(wh) < len(boxes)
    cents, score, _, converged = _lloyd(_Shapes(wh, wt), init.copy(), median=False, max_iter=300)
    expected = plain_lloyd(boxes, init.copy())
    assert converged
    np.testing.assert_allclose(cents, expected, rtol=1e-5)
    assert score == pytest.approx(slow_avg_iou(boxes.astype(float), expected), abs=1e-5)


def test_fast_and_straightforward_agree_on_easy_data():
    boxes = families(1500, spread=0.1)
    fast = kmeans_anchors(boxes, 3, restarts=2, seed=0)
    ref_anchors, ref_iou = kmeans_reference(boxes, 3, restarts=2, seed=0)
    assert fast.avg_iou == pytest.approx(ref_iou, abs=1e-5)
    np.testing.assert_allclose(fast.anchors, ref_anchors, rtol=1e-4)


def test_every_cluster_is_a_fixed_point_of_the_mean_update():
    boxes = families(2000, spread=0.3, seed=5).astype(np.float64)
    res = kmeans_anchors(boxes, 6, restarts=2, seed=0)
    assign = iou_wh(boxes, res.anchors).argmax(axis=1)
    for j in range(6):
        np.testing.assert_allclose(boxes[assign == j].mean(axis=0), res.anchors[j], rtol=1e-4)


def test_median_centroids_are_member_values():
    boxes = families(500, spread=0.2)
    res = kmeans_anchors(boxes, 3, restarts=2, seed=0, median=True)
    for w, h in res.anchors:
        assert np.isin(np.float32(w), boxes[:, 0]) and np.isin(np.float32(h), boxes[:, 1])


def test_empty_cluster_is_reseeded_from_worst_box():
    from darkpy.anchors.kmeans import _lloyd, _Shapes, dedupe

    boxes = np.array([[0.1, 0.1]] * 50 + [[0.9, 0.9]] * 50 + [[0.1, 0.9]], np.float32)
    # two equal starting centroids: ties go to the first, the second is empty after round one
    init = np.array([[0.1, 0.1], [0.1, 0.1], [0.9, 0.9]])
    cents, score, _, converged = _lloyd(_Shapes(*dedupe(boxes)), init, median=False, max_iter=50)
    assert converged and score == pytest.approx(1.0)
    assert sorted(map(tuple, cents.round(4).tolist())) == [(0.1, 0.1), (0.1, 0.9), (0.9, 0.9)]


def test_distinct_shapes_each_get_a_cluster():
    boxes = np.array([[0.1, 0.1]] * 50 + [[0.9, 0.9]] * 50 + [[0.1, 0.9]], np.float32)
    res = kmeans_anchors(boxes, 3, restarts=5, seed=0)
    assert res.avg_iou == pytest.approx(1.0)
    assert sorted(res.members.tolist()) == [1, 50, 50]


def test_k_larger_than_distinct_shapes_is_a_clear_error():
    boxes = np.array([[0.1, 0.2]] * 10 + [[0.3, 0.3]] * 10, np.float32)
    with pytest.raises(UsageError, match=r"k=3 is more than the 2 distinct box shapes"):
        kmeans_anchors(boxes, 3)


def test_k_equal_to_distinct_shapes_is_exact():
    boxes = np.array([[0.1, 0.2]] * 10 + [[0.3, 0.3]] * 10, np.float32)
    res = kmeans_anchors(boxes, 2, restarts=1)
    assert res.avg_iou == pytest.approx(1.0)


def test_bad_arguments():
    with pytest.raises(UsageError):
        kmeans_anchors(families(10), 0)
    with pytest.raises(DataError):
        kmeans_anchors(np.zeros((0, 2)), 2)


def test_single_cluster_is_mean_of_all():
    boxes = families(300)
    res = kmeans_anchors(boxes, 1, restarts=1)
    np.testing.assert_allclose(res.anchors[0], boxes.astype(np.float64).mean(axis=0), rtol=1e-5)


# ---- sweep and knee


def test_knee_is_farthest_point_above_chord():
    assert knee_point([1, 2, 3, 4, 5], [0.3, 0.6, 0.8, 0.82, 0.84]) == 3
    assert knee_point([1, 2, 3], [0.5, 0.5, 0.5]) == 1


def test_sweep_finds_knee_at_number_of_families():
    res = sweep(families(1500), range(1, 8), restarts=2, seed=0)
    assert res.ks == list(range(1, 8))
    assert res.knee == 3
    assert res.knee_result.k == 3
    assert all(b >= a - 0.01 for a, b in zip(res.ious, res.ious[1:]))


# ---- units and formatting


def test_units_round_trip_and_grid_scale():
    norm = np.array([[0.1, 0.2]])
    np.testing.assert_allclose(to_units(norm, "grid", 416, 416, 32), [[1.3, 2.6]])
    np.testing.assert_allclose(to_units(norm, "pixels", 608, 416), [[60.8, 83.2]])
    np.testing.assert_allclose(from_units(to_units(norm, "grid", 320, 640, 32), "grid", 320, 640, 32), norm)


def test_parse_anchor_list():
    assert parse_anchor_list("1.08,1.19,  3.42,4.41").tolist() == [[1.08, 1.19], [3.42, 4.41]]
    with pytest.raises(UsageError, match="pairs"):
        parse_anchor_list("1,2,3")
    with pytest.raises(UsageError, match="numbers"):
        parse_anchor_list("1,x")


def test_format_anchors_like_darknet_cfgs():
    assert format_anchors([[10.2, 13.7], [0.2, 30]], "pixels") == "10,14,  1,30"
    assert format_anchors([[1.08, 1.19]], "grid") == "1.0800,1.1900"
    assert format_anchors([[0.00123, 2]], "grid") == "0.00123,2.0000"


# ---- label loading


def write_dataset(root, boxes_per_image, extra_lines=()):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    images = []
    for i, boxes in enumerate(boxes_per_image):
        image = root / "images" / f"{i:03d}.jpg"
        images.append(str(image))
        if boxes is None:
            continue
        text = "".join(f"0 0.5 0.5 {w:.6f} {h:.6f}\n" for w, h in boxes)
        if i == 0:
            text += "".join(extra_lines)
        (root / "labels" / f"{i:03d}.txt").write_text(text)
    (root / "train.txt").write_text("\n".join(images) + "\n")
    (root / "d.data").write_text(f"classes = 2\ntrain = {root / 'train.txt'}\n")
    return root


def test_load_from_data_list_and_folder_agree(tmp_path):
    write_dataset(tmp_path, [[(0.1, 0.2)], [(0.3, 0.4), (0.5, 0.5)], None],
                  extra_lines=["1 0.5 0.5 0 0.3\n"])
    a = load_boxes(data=tmp_path / "d.data")
    b = load_boxes(image_list=tmp_path / "train.txt")
    c = load_boxes(labels=tmp_path / "labels")
    for got in (a, b, c):
        assert sorted(map(tuple, got.wh.astype(float).round(4).tolist())) == [(0.1, 0.2), (0.3, 0.4), (0.5, 0.5)]
        assert got.zero_size == 1
    assert a.missing == 1 and a.files == 2


def test_relative_list_entries_resolve_beside_the_list(tmp_path):
    write_dataset(tmp_path, [[(0.1, 0.2)]])
    (tmp_path / "rel.txt").write_text("images/000.jpg\n")
    assert len(load_boxes(image_list=tmp_path / "rel.txt")) == 1


def test_no_labels_error_names_where_it_looked(tmp_path):
    write_dataset(tmp_path, [None, None])
    with pytest.raises(DataError, match=r"train.txt: no label files found for the 2 images.*labels/000.txt"):
        load_boxes(data=tmp_path / "d.data")
    with pytest.raises(DataError, match="no label .txt files"):
        load_boxes(labels=tmp_path / "labels")


def test_only_zero_size_boxes_is_an_error(tmp_path):
    write_dataset(tmp_path, [[(0.0, 0.2)]])
    with pytest.raises(DataError, match="no usable boxes.*1 had zero width or height"):
        load_boxes(labels=tmp_path / "labels")


def test_malformed_label_reports_file_and_line(tmp_path):
    write_dataset(tmp_path, [[(0.1, 0.2)]], extra_lines=["0 0.5 0.5 0.1\n"])
    with pytest.raises(DataError, match=r"000.txt:2: expected 5 fields"):
        load_boxes(labels=tmp_path / "labels")


def test_exactly_one_source():
    with pytest.raises(UsageError, match="exactly one"):
        load_boxes()


# ---- cfg rewrite

ANCHORS = np.array([[0.05, 0.08], [0.1, 0.2], [0.3, 0.25], [0.5, 0.6], [0.8, 0.9]])


def changed_lines(before: str, after: str):
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b)
    return {i + 1: (x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y}


def test_region_rewrite_touches_only_anchor_num_filters(tmp_path, repo):
    cfg = tmp_path / "v2.cfg"
    shutil.copy(repo / "cfg" / "yolov2-voc.cfg", cfg)
    before = cfg.read_text()
    write_anchors(cfg, ANCHORS[:4])
    diff = changed_lines(before, cfg.read_text())
    assert sorted(diff) == [237, 242, 246]
    assert diff[237][1] == "filters=100\n"  # 4 * (4 + 1 + 20)
    assert diff[242][1] == "anchors =  0.6500,1.0400,  1.3000,2.6000,  3.9000,3.2500,  6.5000,7.8000\n"
    assert diff[246][1] == "num=4\n"


def test_same_count_keeps_yolo_masks_and_filters(tmp_path, repo):
    cfg = tmp_path / "v3.cfg"
    shutil.copy(repo / "cfg" / "yolov3.cfg", cfg)
    before = cfg.read_text()
    nine = np.repeat(ANCHORS, [2, 2, 2, 2, 1], axis=0) * np.linspace(1, 1.1, 9)[:, None]
    write_anchors(cfg, nine)
    diff = changed_lines(before, cfg.read_text())
    assert sorted(diff) == [609, 695, 782]  # only the three anchors lines; pixels at 608
    assert diff[609][1].startswith("anchors = 30,49,  31,49,  62,125,")


def test_changed_count_splits_anchors_over_yolo_masks(tmp_path, repo):
    cfg = tmp_path / "v3.cfg"
    shutil.copy(repo / "cfg" / "yolov3.cfg", cfg)
    write_anchors(cfg, ANCHORS[:4].tolist() + [[0.7, 0.7], [0.9, 0.95]])
    layers = anchor_layers(read_cfg_text(cfg))
    assert [s.get("mask") for s in layers] == ["4,5", "2,3", "0,1"]  # coarsest grid: biggest
    assert all(s.get("num") == "6" for s in layers)
    convs = [s for s in read_cfg_text(cfg).sections if s.name == "convolutional" and s.get("filters") == "170"]
    assert len(convs) == 3  # 2 * (80 + 5)


def test_crlf_comments_and_missing_num_are_kept(tmp_path):
    cfg = tmp_path / "w.cfg"
    text = ("[net]\r\n# size\r\nwidth = 320\r\nheight=320\r\n\r\n[convolutional]\r\nfilters = 125 \r\n"
            "activation=linear\r\n\r\n; the detector\r\n[region]\r\nanchors = 1,1\r\nclasses=2\r\n")
    cfg.write_bytes(text.encode())
    write_anchors(cfg, ANCHORS[:2], stride=32)   # (this toy cfg's own grid would be 1 pixel a cell)
    out = cfg.read_bytes().decode()
    assert out == text.replace("filters = 125 ", "filters = 14 ").replace(
        "anchors = 1,1\r\n", "anchors = 0.5000,0.8000,  1.0000,2.0000\r\nnum=2\r\n")


def test_region_not_after_convolutional_is_an_error(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("[net]\nwidth=416\nheight=416\n[maxpool]\nsize=2\n[region]\nanchors=1,1\nnum=1\n")
    before = cfg.read_text()
    with pytest.raises(CfgError, match=r"bad.cfg:6: \[region\] must follow a \[convolutional\]"):
        write_anchors(cfg, ANCHORS[:1])
    assert cfg.read_text() == before  # nothing written


def test_layer_units(repo):
    assert layer_units(read_cfg_text(repo / "cfg" / "yolov2-voc.cfg")) == "grid"
    assert layer_units(read_cfg_text(repo / "cfg" / "yolov3.cfg")) == "pixels"
    assert layer_units(read_cfg_text(repo / "cfg" / "darknet19.cfg")) is None


def test_class_only_lines_are_skipped_and_counted(tmp_path):
    write_dataset(tmp_path, [[(0.1, 0.2)], [(0.3, 0.4)]], extra_lines=["1 0 0 0.5 0.5\n", "1 1e6 1e6 1 1\n"])
    for got in (load_boxes(data=tmp_path / "d.data"), load_boxes(labels=tmp_path / "labels")):
        assert len(got) == 2 and got.class_only == 2
