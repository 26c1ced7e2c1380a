"""A tiny detector whose weights are set by hand, so the boxes it must find are known.

Input 64x64 -> maxpool 32/32 -> 2x2 grid -> 1x1 conv -> region (1 anchor of 1x1 cells, 2 classes).
objectness logit = 20·R - 15 (the cell's max red), tx = ty = tw = th = 0, class logits 10·G and
10·B. A cell holding a pure red+green patch yields a box exactly covering the cell, class 0."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CFG = """[net]
width=64
height=64
channels=3

[maxpool]
size=32
stride=32
padding=0

[convolutional]
filters=7
size=1
stride=1
pad=0
activation=linear

[region]
anchors = 1,1
classes=2
coords=4
num=1
softmax=1
"""


def make_detector(folder: Path) -> tuple[Path, Path, Path]:
    import darkpy

    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "det.cfg"
    cfg.write_text(CFG)
    net = darkpy.load_network(cfg, device="cpu")
    conv = net.layers[1]
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[4, 0] = 20.0
        conv.bias[4] = -15.0
        conv.weight[5, 1] = 10.0
        conv.weight[6, 2] = 10.0
    weights = folder / "det.weights"
    net.save_weights(weights)
    names = folder / "det.names"
    names.write_text("yellowish\npurplish\n")
    return cfg, weights, names


def make_image(path: Path, width: int = 128, height: int = 64) -> Path:
    """Black image with a yellow (R+G) top-left quadrant: BGR (0, 255, 255)."""
    import cv2

    img = np.zeros((height, width, 3), np.uint8)
    img[: height // 2, : width // 2] = (0, 255, 255)
    cv2.imwrite(str(path), img)
    return path
