"""Shared helpers for the classification tests: a generated colour-class image set and a tiny cfg."""
from __future__ import annotations

from pathlib import Path

import numpy as np

COLORS = {  # RGB
    "red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 50, 220), "yellow": (230, 220, 30),
}
SHAPES = ("disc", "square")


def draw(kind: str, color, size: int, rng: np.random.Generator) -> np.ndarray:
    """A BGR uint8 image: a coloured shape on a noisy grey background."""
    import cv2

    img = rng.integers(90, 166, size=(size, size, 3), dtype=np.uint8)
    bgr = tuple(int(v) for v in color[::-1])
    c = size // 2 + int(rng.integers(-size // 8, size // 8 + 1))
    r = int(size * rng.uniform(0.22, 0.34))
    if kind == "disc":
        cv2.circle(img, (c, c), r, bgr, -1)
    else:
        cv2.rectangle(img, (c - r, c - r), (c + r, c + r), bgr, -1)
    return img


def make_color_set(root: Path, per_class: int, size: int = 32, seed: int = 0, classes=None) -> dict:
    """Class-per-colour images named `<split>/<i>_<colour>.png`, a labels list and .data file."""
    import cv2

    classes = list(classes or COLORS)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", per_class), ("valid", max(4, per_class // 3))):
        (root / split).mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(n):
            for name in classes:
                p = root / split / f"{i:04d}_{name}.png"
                cv2.imwrite(str(p), draw(SHAPES[i % 2], COLORS[name], size, rng))
                paths.append(str(p))
        (root / f"{split}.list").write_text("\n".join(paths) + "\n")
        out[split] = paths
    (root / "labels.list").write_text("\n".join(classes) + "\n")
    (root / "cls.data").write_text(
        f"classes={len(classes)}\ntrain={root / 'train.list'}\nvalid={root / 'valid.list'}\n"
        f"labels={root / 'labels.list'}\nbackup={root / 'backup'}\ntop=2\n")
    out["data"] = root / "cls.data"
    return out


def mini_tree_classifier(folder: Path, golden: Path, **net) -> Path:
    """A 9-class WordTree classifier (16x16, conv, 1x1 conv, avgpool, tree softmax, masked cost)
    over the golden set's mini.tree; writes mini.tree, mini.names and tree.cfg into `folder` and
    returns the cfg; `net` adds [net] keys (batch=6, learning_rate=0.01, ...). Shared by the
    engine-parity tests of both engines and the tree prediction/training tests."""
    tree = folder / "mini.tree"
    tree.write_text((golden / "cfg" / "mini.tree").read_text())
    (folder / "mini.names").write_text((golden / "cfg" / "mini.names").read_text())
    cfg = folder / "tree.cfg"
    extra = "".join(f"{k}={v}\n" for k, v in net.items())
    cfg.write_text(f"""[net]
{extra}width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=9
size=1
stride=1
activation=linear

[avgpool]

[softmax]
groups=1
tree={tree}

[cost]
type=masked
""")
    return cfg
