"""A tiny hand-weighted detector (tests/detnet.py) and a valid set whose expected scores are known.

128x128 images, a 2x2 grid of 64-pixel cells: a yellow cell gives a class-0 box covering the cell
exactly, a purple one a class-1 box. Labels name the cells; one label sits on a black cell (the
network misses it), so class 0 has 3 objects of which 2 are found:
VOC area AP 2/3, VOC07 AP 7/11, class 1 AP 1.0; recall 4/5 objects, average IoU 0.8.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.detnet import make_detector

YELLOW, PURPLE = (0, 255, 255), (255, 0, 255)
CELLS = {"tl": (0, 0), "tr": (1, 0), "bl": (0, 1), "br": (1, 1)}  # (col, row)

IMAGES = {  # name: ([(cell, colour)], [(class, cell)])
    "img_1": ([("tl", YELLOW)], [(0, "tl")]),
    "img_2": ([("br", PURPLE)], [(1, "br")]),
    "img_3": ([("tr", YELLOW), ("bl", PURPLE)], [(0, "tr"), (1, "bl")]),
    "img_4": ([], [(0, "tl")]),
}


def make_valid_set(root: Path, images: dict = IMAGES, size: int = 128,
                   data_extra: str = "") -> dict[str, Path]:
    import cv2

    root.mkdir(parents=True, exist_ok=True)
    cfg, weights, names = make_detector(root / "model")
    (root / "images").mkdir(exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    half = size // 2
    entries = []
    for name, (patches, labels) in images.items():
        img = np.zeros((size, size, 3), np.uint8)
        for cell, colour in patches:
            c, r = CELLS[cell]
            img[r * half:(r + 1) * half, c * half:(c + 1) * half] = colour
        path = root / "images" / f"{name}.png"
        cv2.imwrite(str(path), img)
        lines = [f"{k} {(CELLS[cell][0] + 0.5) / 2} {(CELLS[cell][1] + 0.5) / 2} 0.5 0.5\n"
                 for k, cell in labels]
        (root / "labels" / f"{name}.txt").write_text("".join(lines))
        entries.append(str(path))
    (root / "valid.txt").write_text("\n".join(entries) + "\n")
    data = root / "det.data"
    data.write_text(f"classes = 2\nvalid = {root / 'valid.txt'}\nnames = {names}\n"
                    f"results = {root / 'results'}\n{data_extra}")
    return {"data": data, "cfg": cfg, "weights": weights, "names": names, "list": root / "valid.txt",
            "root": root}
