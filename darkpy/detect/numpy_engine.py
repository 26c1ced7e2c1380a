"""Detection without torch: `darkpy.net.numpy_forward` + Darknet's region decode and per-class
NMS in numpy, returning the same `DetectionResult`s as `darkpy.detect.detector.Detector`.

Why: for one or a few images `import torch` costs more than the whole forward pass (see
docs/performance.md). `darkpy detect` picks this engine by the rule in `choose_engine`; it covers
[region] detectors without a WordTree (YOLOv2, YOLOv2-tiny, the demo model) at fp32 on the CPU.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from darkpy.boxes import nms_sort_numpy
from darkpy.errors import DarkpyError
from darkpy.formats.image import correct_boxes, prepare_bgr, read_bgr
from darkpy.formats.labels import resolve_entry
from darkpy.net.numpy_forward import NpLayer, NumpyNetwork
from darkpy.detect.results import DetectionResult

ENGINES = ("auto", "torch", "numpy")
MAX_NUMPY_IMAGES = 4  # beyond this torch's batched forward wins back its import time


def cuda_may_be_wanted(device: str | None) -> bool:
    """Whether torch might pick CUDA, decided without importing torch: an explicit --device, else
    CUDA_VISIBLE_DEVICES hiding every GPU, else whether `nvidia-smi` is installed."""
    if device is not None:
        return not device.startswith("cpu")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return shutil.which("nvidia-smi") is not None


def choose_engine(engine: str, n_images: int, precision: str, device: str | None,
                  compile_: bool = False) -> str:
    """'numpy' or 'torch' for `darkpy detect` (before looking at the cfg): `auto` takes numpy for at
    most MAX_NUMPY_IMAGES images at fp32/auto precision, without --compile, when CUDA is not wanted."""
    if engine != "auto":
        return engine
    if (n_images <= MAX_NUMPY_IMAGES and precision in ("auto", "fp32") and not compile_
            and not cuda_may_be_wanted(device)):
        return "numpy"
    return "torch"



def decode_region(layer: NpLayer, out: np.ndarray, thresh: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`darkpy.detect.decode.decode_region` (no WordTree, no background) in numpy, float32."""
    b, _, h, w = out.shape
    num, coords, classes = layer.num, layer.coords, layer.classes
    v = out.astype(np.float32, copy=False).reshape(b, num, coords + 1 + classes, h, w)
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    anchors = np.asarray(layer.anchors, np.float32).reshape(num, 2)
    x = (cols + v[:, :, 0]) / np.float32(w)
    y = (rows + v[:, :, 1]) / np.float32(h)
    bw = np.exp(v[:, :, 2]) * anchors[:, 0].reshape(1, num, 1, 1) / np.float32(w)
    bh = np.exp(v[:, :, 3]) * anchors[:, 1].reshape(1, num, 1, 1) / np.float32(h)
    boxes = np.stack([x, y, bw, bh], axis=-1).reshape(b, num * h * w, 4)
    scale = v[:, :, coords].reshape(b, num * h * w)
    cls = v[:, :, coords + 1:].transpose(0, 1, 3, 4, 2).reshape(b, num * h * w, classes)
    above = scale > thresh
    objectness = np.where(above, scale, np.float32(0))
    prob = scale[..., None] * cls
    probs = np.where((prob > thresh) & above[..., None], prob, np.float32(0))
    return boxes, objectness, probs


class NumpyDetector:
    """`Detector`'s `stream` for a `NumpyNetwork`: Darknet's `detector test` per image."""

    def __init__(self, net: NumpyNetwork, thresh: float = 0.5, nms: float = 0.45, letterbox: bool = True,
                 names: Sequence[str] | None = None, keep_image: bool = False):
        self.net, self.thresh, self.nms, self.letterbox = net, thresh, nms, letterbox
        self.names, self.keep_image = names, keep_image

    @classmethod
    def load(cls, cfg: str | Path, weights: str | Path, size: int | None = None,
             **options) -> "NumpyDetector":
        return cls(NumpyNetwork.load(cfg, weights, size), **options)

    def stream(self, images: Iterable[str], on_error: Callable[[str, DarkpyError], None] | None = None
               ) -> Iterator[DetectionResult]:
        for i, entry in enumerate(images):
            try:
                bgr = read_bgr(resolve_entry(str(entry), None))
            except DarkpyError as exc:
                if on_error is not None:
                    on_error(str(entry), exc)
                continue
            yield self.run(bgr, str(entry), i)

    def run(self, bgr: np.ndarray, source: str = "<image 0>", index: int = 0) -> DetectionResult:
        net = self.net
        x = prepare_bgr(bgr, net.width, net.height, self.letterbox)[None]
        ih, iw = bgr.shape[:2]
        parts = [decode_region(layer, out, self.thresh)
                 for layer, out in zip(net.detection_layers, net.forward(x))]
        boxes = np.concatenate([p[0] for p in parts], axis=1)[0]
        obj = np.concatenate([p[1] for p in parts], axis=1)[0]
        probs = np.concatenate([p[2] for p in parts], axis=1)[0]
        boxes = correct_boxes(boxes, iw, ih, net.width, net.height, self.letterbox)
        probs = nms_sort_numpy(boxes, obj, probs, self.nms)
        probs = np.where(obj[:, None] > 0, probs, np.float32(0))
        idx = np.flatnonzero((probs > 0).any(axis=1))
        return DetectionResult(source, index, int(iw), int(ih), boxes[idx].astype(np.float64),
                               obj[idx].astype(np.float64), probs[idx].astype(np.float64), self.names,
                               bgr if self.keep_image else None)


__all__ = ("ENGINES", "NumpyDetector", "choose_engine", "cuda_may_be_wanted", "decode_region")
