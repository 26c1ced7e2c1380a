"""Generated joint-training data on the 9-node `mini.tree` (tests only).

Tree (index: name, parent): 0 thing, 1 place, 2 animal (thing), 3 plant (thing), 4 rock
(thing), 5 city (place), 6 lake (place), 7 dog (animal), 8 cat (animal). The labels list is the
tree's ids n0001..n0009, so label line i is tree index i (as data/9k.labels is for 9k.tree).

- detection images `det/images/dNN.png`: a red square on grey, labelled dog (7) in
  `det/labels/dNN.txt`;
- classification images `inet/n0009/cNN.png`: blue-ish images of cats (tree index 8), no label
  file: the class comes from the path;
- optionally a marker image `det/images/mNN.png` whose label file holds `8 1000000 1000000 1 1`.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

GOLDEN_CFG = Path(__file__).resolve().parents[1] / "golden" / "cfg"
DOG, CAT = 7, 8


def write_cfg(folder: Path, *, batch: int = 4, rate: float = 0.01, noobject_scale: float = 1.0,
              max_batches: int = 20, jitter: float = 0.2) -> Path:
    text = (GOLDEN_CFG / "g_tree_mini.cfg").read_text()
    text = text.replace("batch=1\nsubdivisions=1\n",
                        f"batch={batch}\nsubdivisions={max(1, batch // 2)}\nlearning_rate={rate}\n"
                        f"momentum=0.9\ndecay=0.0005\nmax_batches={max_batches}\npolicy=constant\n", 1)
    text = text.replace("noobject_scale=1", f"noobject_scale={noobject_scale}", 1)
    text = text.replace("jitter=.2", f"jitter={jitter}", 1)
    text = text.replace("random=1", "random=0", 1)
    shutil.copy(GOLDEN_CFG / "mini.tree", folder / "mini.tree")
    cfg = folder / "tree.cfg"
    cfg.write_text(text)
    return cfg


def _png(path: Path, img: np.ndarray) -> str:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return str(path)


def make_data(folder: Path, n_det: int = 4, n_cls: int = 4, *, markers: int = 0, mixed: bool = False,
              classify_list: bool = True, seed: int = 0) -> dict:
    """Images, labels, lists and a `.data` file; returns their paths."""
    rng = np.random.default_rng(seed)
    det, cls, marks = [], [], []
    for i in range(n_det):
        img = np.full((48, 48, 3), 128, np.uint8)
        x0, y0 = (int(v) for v in rng.integers(4, 20, 2))
        img[y0:y0 + 20, x0:x0 + 20] = (0, 0, 255)  # BGR red
        p = _png(folder / "det" / "images" / f"d{i:02d}.png", img)
        lab = folder / "det" / "labels" / f"d{i:02d}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text(f"{DOG} {(x0 + 10) / 48:.6f} {(y0 + 10) / 48:.6f} {20 / 48:.6f} {20 / 48:.6f}\n")
        det.append(p)
    for i in range(n_cls):
        img = np.zeros((40, 40, 3), np.uint8)
        img[..., 0] = 200 + int(rng.integers(0, 50))  # blue
        img[..., 1] = int(rng.integers(0, 60))
        cls.append(_png(folder / "inet" / "n0009" / f"c{i:02d}.png", img))
    for i in range(markers):
        img = np.zeros((40, 40, 3), np.uint8)
        img[..., 0] = 230
        p = _png(folder / "det" / "images" / f"m{i:02d}.png", img)
        (folder / "det" / "labels" / f"m{i:02d}.txt").write_text(f"{CAT} 1000000 1000000 1 1\n")
        marks.append(p)
    labels = folder / "mini.labels"
    labels.write_text("".join(f"n{i:04d}\n" for i in range(1, 10)))
    names = folder / "mini.names"
    shutil.copy(GOLDEN_CFG / "mini.names", names)
    train = folder / "train.list"
    train_paths = det + marks + (cls if mixed else [])
    train.write_text("\n".join(train_paths) + "\n")
    lines = ["classes = 9", f"train = {train}", f"labels = {labels}", f"names = {names}",
             f"backup = {folder / 'backup'}"]
    if classify_list:
        clist = folder / "classify.list"
        clist.write_text("\n".join(cls) + "\n")
        lines.append(f"classify = {clist}")
    data = folder / "joint.data"
    data.write_text("\n".join(lines) + "\n")
    return {"data": data, "det": det, "cls": cls, "marks": marks, "train": train, "labels": labels}
