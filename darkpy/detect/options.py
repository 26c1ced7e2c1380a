"""What decides what a detector returns, for both engines (`Detector` on torch, `NumpyDetector`
without): thresholds, NMS, input size, letterboxing, batching, precision, names. No torch, so that
`darkpy detect` on the numpy engine never imports it.

The presets `DetectOptions.valid()` and `DetectOptions.recall()` carry Darknet's `detector valid`
/ `detector recall` settings.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from darkpy.errors import UsageError
from darkpy.net.precision import PRECISIONS

WALKS = ("darknet", "paper")  # WordTree walks (darkpy.wordtree.walk)

# Darknet's `detector test` / `darknet detect` defaults (src/detector.c, src/darknet.c).
DEFAULT_THRESH = 0.5
DEFAULT_HIER_THRESH = 0.5
DEFAULT_NMS = 0.45
# `detector valid` / `detector map`
VALID_THRESH = 0.005
VALID_HIER = 0.5
VALID_NMS = 0.45
# `detector recall`
RECALL_THRESH = 0.001
RECALL_NMS = 0.4

NMS_KINDS = ("sort", "obj")


@dataclass
class DetectOptions:
    """Everything that decides what a `Detector` returns.

    thresh: class probability (objectness for `nms_kind="obj"`) a box must exceed;
    hier_thresh: WordTree walk threshold; hier_walk: which walk names a tree box's class,
    "darknet" (default) or "paper" (darkpy.wordtree.walk); nms: IoU above which a weaker box is suppressed
    (0 disables); nms_kind: "sort" (Darknet's per-class `do_nms_sort`) or "obj" (`do_nms_obj` on
    objectness, as `detector recall`); size / width / height: network input size (default: the
    cfg's); letterbox: keep the aspect ratio (Darknet's test/valid) or stretch (recall);
    batch: images per forward pass; workers: image-loading processes; device: cpu, cuda, cuda:N
    (default: where the network is, CUDA for a cfg when present); precision: "fp32" (Darknet's),
    "auto" (fp16 on CUDA, bf16 on CPUs with AMX or AVX512_BF16, else fp32), "bf16" or "fp16";
    names: class names; class_map: a `map=` file's tree nodes, for WordTree networks (one class per
    listed node);
    rgb: numpy inputs are RGB rather than OpenCV's BGR; keep_image: results carry the BGR image
    (for drawing)."""

    thresh: float = DEFAULT_THRESH
    hier_thresh: float = DEFAULT_HIER_THRESH
    hier_walk: str = "darknet"
    nms: float = DEFAULT_NMS
    nms_kind: str = "sort"
    size: int | None = None
    width: int | None = None
    height: int | None = None
    letterbox: bool = True
    batch: int = 1
    workers: int = 0
    device: str | None = None
    precision: str = "fp32"
    names: Sequence[str] | None = None
    class_map: Sequence[int] | None = None
    rgb: bool = False
    keep_image: bool = False

    def __post_init__(self) -> None:
        if self.nms_kind not in NMS_KINDS:
            raise UsageError(f"nms_kind must be one of {', '.join(NMS_KINDS)}, got {self.nms_kind!r}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r} (one of {', '.join(PRECISIONS)})")
        if int(self.batch) < 1:
            raise UsageError("batch must be at least 1")

        if self.hier_walk not in WALKS:  # a usage error here, not at decode time
            raise UsageError(f"unknown tree walk {self.hier_walk!r}; choose one of {', '.join(WALKS)}")
        for key in ("thresh", "hier_thresh", "nms"):
            value = getattr(self, key)
            if not 0 <= value <= 1:
                raise UsageError(f"{key} must lie in [0, 1], got {value}")

    @classmethod
    def valid(cls, **changes) -> "DetectOptions":
        """Darknet's `detector valid` / `detector map` settings (thresh .005, NMS .45, letterbox)."""
        base = dict(thresh=VALID_THRESH, hier_thresh=VALID_HIER, nms=VALID_NMS, batch=8)
        return cls(**{**base, **changes})

    @classmethod
    def recall(cls, **changes) -> "DetectOptions":
        """Darknet's `detector recall` settings (objectness .001, `do_nms_obj` .4, stretched images)."""
        base = dict(thresh=RECALL_THRESH, hier_thresh=0.5, nms=RECALL_NMS, nms_kind="obj", letterbox=False,
                    batch=8)
        return cls(**{**base, **changes})

    def input_size(self) -> tuple[int, int] | None:
        """(width, height) asked for, or None for the cfg's own."""
        w = self.width if self.width is not None else self.size
        h = self.height if self.height is not None else self.size
        if w is None and h is None:
            return None
        if w is None or h is None:
            raise UsageError("give both width and height (or size)")
        return int(w), int(h)

    def replace(self, **changes) -> "DetectOptions":
        return replace(self, **changes)
