"""Detection without torch: `darkpy.net.numpy_forward` under the shared detector interface
(`darkpy.detect.base.DetectorBase`: the same `DetectOptions`, decode, NMS and `DetectionResult`s
as `darkpy.detect.detector.Detector`).

Why: for one or a few images `import torch` costs more than the whole forward pass (see
docs/performance.md). `darkpy detect` picks this engine by the rule in `choose_engine`; it covers
[region] detectors without a WordTree (YOLOv2, YOLOv2-tiny, the demo model) at fp32 on the CPU.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from darkpy.detect.base import DetectorBase, as_list, report_skipped
from darkpy.detect.batches import load_images
from darkpy.detect.options import DetectOptions
from darkpy.detect.results import DetectionResult
from darkpy.errors import DarkpyError, UsageError
from darkpy.net.numpy_forward import NumpyNetwork, NumpyUnsupported
from darkpy.net.spec import NetworkSpec

ENGINES = ("auto", "torch", "numpy")
MAX_NUMPY_IMAGES = 4  # beyond this torch's batched forward wins back its import time
# ... for yolov2-voc (29.4 BFLOPs an image): a run of at most this much work (images x BFLOPs)
# also takes numpy when the caller knows the network (the demo model's 12 images: 0.3)
NUMPY_BFLOPS = 4 * 30.0


def torch_build_has_gpu() -> bool:
    """torch's own record of whether it was built with CUDA (or ROCm), read from its `version.py`
    without importing torch (which costs more than a small forward pass). True when unsure."""
    import importlib.util
    import re

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not spec.submodule_search_locations:
        return True
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text(encoding="utf-8")
    except OSError:
        return True
    builds = re.findall(r"^(cuda|hip)\b[^=\n]*=\s*(.+)$", text, flags=re.M)
    if not builds:
        return True
    return any(value.strip() != "None" for _, value in builds)


def cuda_may_be_wanted(device: str | None) -> bool:
    """Whether torch would run on CUDA, asked of torch, never of PATH: an explicit --device
    decides; else CUDA_VISIBLE_DEVICES hiding every GPU or a torch built without CUDA means no
    (both read without importing torch); else `torch.cuda.is_available()` (importing torch, which
    a CUDA machine then uses anyway). When torch is already imported it is asked directly."""
    if device is not None and device.strip().lower() not in ("", "auto"):
        return not device.strip().lower().startswith("cpu")
    if "torch" not in sys.modules:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None and visible.strip() in ("", "-1"):
            return False
        if not torch_build_has_gpu():
            return False
    import torch

    return bool(torch.cuda.is_available())


def choose_engine(engine: str, n_images: int, precision: str, device: str | None,
                  compile_: bool = False, bflops: float | None = None) -> str:
    """'numpy' or 'torch' for `darkpy detect` (before looking at the cfg): `auto` takes numpy for at
    most MAX_NUMPY_IMAGES images (or, given the network's `bflops` an image, at most NUMPY_BFLOPS
    of work) at fp32/auto precision, without --compile, when torch would not run on CUDA.
    `--engine numpy` with a CUDA device is refused (the numpy engine is CPU-only)."""
    text = (device or "").strip().lower()
    if engine == "numpy" and text not in ("", "auto") and not text.startswith("cpu"):
        raise UsageError(f"--engine numpy runs on the CPU only, but --device {device} asks for a GPU: "
                         f"drop one of them")
    if engine != "auto":
        return engine
    small = n_images <= MAX_NUMPY_IMAGES or (bflops is not None and n_images * bflops <= NUMPY_BFLOPS)
    if (small and precision in ("auto", "fp32") and not compile_
            and not cuda_may_be_wanted(device)):
        return "numpy"
    return "torch"


class NumpyDetector(DetectorBase):
    """Darknet's `detector test` on a `NumpyNetwork`, one image per forward pass (numpy's forward
    gains nothing from batching). `NumpyDetector(cfg or spec, weights, options)` or
    `NumpyDetector(network, options=...)`; options the engine cannot honour (a class map, a
    precision other than fp32/auto, a CUDA device) are a `NumpyUnsupported`."""

    def __init__(self, cfg: str | Path | NetworkSpec | NumpyNetwork, weights: str | Path | None = None,
                 options: DetectOptions | None = None, **changes):
        super().__init__(options, changes)
        opts = self.options
        if opts.class_map is not None:
            raise NumpyUnsupported("a class map (WordTree networks run on torch)")
        if opts.precision not in ("auto", "fp32") or (opts.device is not None and not opts.device.startswith("cpu")):
            raise NumpyUnsupported(f"precision {opts.precision} / device {opts.device}")
        size = opts.input_size()
        if size is not None and size[0] != size[1]:
            raise NumpyUnsupported("a non-square input size")
        if isinstance(cfg, NumpyNetwork):
            if size is not None and (cfg.width, cfg.height) != size:
                raise UsageError("the network was built at another size than the options ask for")
            self.net = cfg
        else:
            if weights is None:
                raise UsageError("the numpy engine needs weights")
            self.net = NumpyNetwork.load(cfg, weights, None if size is None else size[0])

    @property
    def network(self) -> NumpyNetwork:
        return self.net

    @property
    def input_size(self) -> tuple[int, int]:
        return self.net.width, self.net.height

    @property
    def detection_layers(self) -> list:
        return self.net.detection_layers

    @property
    def images_per_forward(self) -> int:
        return 1

    def forward(self, x) -> list[np.ndarray]:
        return self.net.forward(np.asarray(x, np.float32))

    def stream(self, images: Iterable, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> Iterator[DetectionResult]:
        on_error = on_error or report_skipped
        w, h = self.input_size
        opts = self.options
        for good, _ in load_images(as_list(images), w, h, opts.letterbox, 1, base=base, keep_image=opts.keep_image,
                                   rgb=opts.rgb, on_error=lambda item: on_error(item.entry, item.error)):
            for g in good:
                yield from self.run_prepared(g.x[None], [g.size], [g.entry], [g.index], [g.image])


def spec_bflops(spec: NetworkSpec) -> float:
    """Darknet's BFLOPs of one image through `spec` (the work `choose_engine` weighs)."""
    return float(sum(layer.bflops for layer in spec.layers))


def detector_for(net, options: DetectOptions) -> DetectorBase:
    """The detector that runs `net`: a `NumpyNetwork` on this engine, a detector as it is, anything
    else (a torch Network or Predictor) on the torch `Detector` (torch imported only then)."""
    if isinstance(net, DetectorBase):
        return net
    if isinstance(net, NumpyNetwork):
        return NumpyDetector(net, options=options)
    from darkpy.detect.detector import Detector

    return Detector(net, options=options)


__all__ = ("ENGINES", "NumpyDetector", "choose_engine", "cuda_may_be_wanted", "detector_for",
           "spec_bflops")
