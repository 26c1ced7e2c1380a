"""WordTree1k training (the YOLO9000 paper's Darknet-19 on data/1k.tree) through `darkpy classifier train`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import darkpy
from cls_helpers import COLORS, draw

REPO = Path(__file__).resolve().parents[2]
# four ImageNet-1k classes, leaves of data/1k.tree: kit fox, tench, teddy, toilet tissue
WNIDS = ["n02119789", "n01440764", "n04399382", "n15075141"]


def _images(root: Path, per_class: int = 3) -> Path:
    import cv2

    rng = np.random.default_rng(0)
    paths = []
    for i in range(per_class):
        for wnid, color in zip(WNIDS, COLORS.values()):
            p = root / "train" / wnid / f"{wnid}_{i}.png"   # ImageNet's layout: the class wnid in the path
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), draw("disc", color, 32, rng))
            paths.append(str(p))
    (root / "train.list").write_text("\n".join(paths) + "\n")
    data = root / "tree.data"
    data.write_text(f"classes=1374\ntrain={root / 'train.list'}\nvalid={root / 'train.list'}\n"
                    f"labels={REPO / 'data' / '1k.labels'}\nbackup={root / 'backup'}\ntop=5\n")
    return data


def test_wordtree1k_classifier_trains_a_couple_of_batches(tmp_path, cli, tiny_cfg):
    data = _images(tmp_path)
    cfg = tiny_cfg(tmp_path / "tree1k.cfg", "classifier", classes=1374, batch=4, subdivisions=2, max_batches=2)
    cfg.write_text(cfg.read_text().replace("[softmax]\ngroups=1\n", f"[softmax]\ngroups=1\ntree="
                                           f"{REPO / 'data' / '1k.tree'}\n\n[cost]\ntype=masked\n"))
    code, out, err = cli("classifier", "train", data, cfg, "--threads", "1", "--device", "cpu",
                         "--backup", tmp_path / "b")
    assert code == 0, err
    assert "2: " in out
    net = darkpy.load_network(cfg, tmp_path / "b" / "tree1k_final.weights", device="cpu")
    assert net.seen == 8
    softmax = net.layers[net.output_index]
    assert softmax.tree is not None and softmax.tree.n == 1374
    # predict lists leaves as Darknet does; --hier-walk adds the node each walk stops at
    image = next((tmp_path / "train" / WNIDS[0]).iterdir())
    for walk in ("darknet", "paper"):
        code, out, err = cli("classifier", "predict", data, cfg, tmp_path / "b" / "tree1k_final.weights",
                             image, "--top", "2", "--hier-walk", walk, "--hier-thresh", "0.0",
                             "--device", "cpu")
        assert code == 0, err
        lines = out.strip().splitlines()
        assert lines[0] == f"{image}:" and len(lines) == 4 and lines[3].startswith(f"  {walk} walk: ")
        # at threshold 0 both walks go down to a leaf: an ImageNet class (named by its wnid here:
        # the .data has labels= but no names=)
        leaf = lines[3].split("%: ", 1)[1]
        assert leaf in {softmax.tree.names[i] for i in range(1374) if softmax.tree.leaf[i]}
    code, _, err = cli("classifier", "predict", data, cfg, tmp_path / "b" / "tree1k_final.weights", image,
                       "--hier-walk", "sideways")
    assert code == 2 and "darknet, paper" in err


def test_shipped_darknet19_1k_tree_cfg_matches_the_tree():
    net = darkpy.load_network(REPO / "cfg" / "darknet19_1k_tree.cfg", device="cpu")
    softmax = net.layers[net.output_index]
    assert softmax.tree.n == 1374 and softmax.out_shape == (1374, 1, 1)
    assert net.layers[-1].section_name == "cost" and net.layers[-1].cost_type == "masked"


def test_bundled_imagenet1k_tree_data_reads():
    from darkpy.classify.labels import read_classifier_data

    d = read_classifier_data(REPO / "cfg" / "imagenet1k_tree.data")
    assert d.classes == 1374 and d.labels == (REPO / "data" / "1k.labels").read_text().split()
