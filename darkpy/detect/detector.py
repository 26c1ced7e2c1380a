"""One detection pipeline for every caller: `darkpy detect`, `valid`, `map`, `recall`, video, the
training mAP hook and the Python API.

    from darkpy import Detector, DetectOptions
    detector = Detector("cfg/demo.cfg", "data/demo/demo.weights", DetectOptions(thresh=0.25))
    for result in detector.detect(["data/demo/images/001988.jpg", bgr_array]):
        for d in result.detections:
            print(d.name or d.cls, d.prob, d.x1, d.y1, d.x2, d.y2)

Stages, as Darknet runs them: preprocess (letterbox or stretch to the network size; paths are
read and prepared in batches by `darkpy.detect.batches`) -> forward (`Predictor`: folded batch
norm) -> decode (`get_network_boxes`) -> NMS (`do_nms_sort` per class, or `do_nms_obj` on
objectness for `recall`) -> one `DetectionResult` per readable image, in input order.

Every knob lives in `DetectOptions`; the presets `DetectOptions.valid()` and
`DetectOptions.recall()` carry Darknet's `detector valid` / `detector recall` settings.
"""
from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from darkpy.boxes import nms_obj, nms_sort
from darkpy.detect.batches import image_batches, prepare_bgr
from darkpy.detect.decode import decode, decode_mapped, tree_map_applies
from darkpy.detect.overlap import leave_a_core_for_io, prefetch
from darkpy.detect.results import Detection, DetectionResult  # noqa: F401  (re-exported)
from darkpy.errors import DarkpyError, DataError, UsageError
from darkpy.net.inference import Predictor
from darkpy.net.model import load_network
from darkpy.wordtree.walk import walk_function

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
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


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
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if int(self.batch) < 1:
            raise UsageError("batch must be at least 1")

        walk_function(self.hier_walk)  # an unknown walk is a usage error here, not at decode time
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


def _report(entry: str, error: DarkpyError) -> None:
    print(f"darkpy: skipping {error}", file=sys.stderr)


def _as_list(images) -> list:
    if isinstance(images, (str, Path, np.ndarray)):
        return [images]
    return list(images)


class Detector:
    """A network ready to detect: `Detector(cfg, weights, options)` or `Detector(network, options=...)`
    (a darkpy Network, left untouched, or a `darkpy.net.inference.Predictor`)."""

    def __init__(self, cfg, weights: str | Path | None = None, options: DetectOptions | None = None,
                 **changes):
        options = options if options is not None else DetectOptions()
        if changes:
            options = replace(options, **changes)
        self.options = options
        size = options.input_size()
        if isinstance(cfg, Predictor):
            predictor = cfg
        else:
            if isinstance(cfg, (str, Path)):
                net = load_network(cfg, weights, size=size, device=options.device)
                size = None
                own = True  # loaded here: fold batch norm into it, no copy
            else:
                net, own = cfg, False
            predictor = Predictor(net, device=options.device, precision=options.precision, inplace=own)
        if size is not None and (predictor.model.net.width, predictor.model.net.height) != size:
            predictor.model.resize(*size)
        self.predictor = predictor
        layers = predictor.detection_layers
        if not layers:
            raise DataError("the network has no [region] or [yolo] layer: it is not a detector",
                            file=getattr(predictor.net, "cfg_path", None))
        predictor.model.net.check_image_channels(getattr(predictor.net, "cfg_path", None), detector=True)
        self.layers = layers
        if options.class_map is not None:
            if not tree_map_applies(predictor.net):
                raise UsageError("a class map applies to WordTree networks (a [region] layer with tree=) only")

    # -- facts ---------------------------------------------------------------------------------
    @property
    def network(self):
        """The network as given (or loaded)."""
        return self.predictor.net

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the images are prepared to."""
        net = self.predictor.model.net
        return net.width, net.height

    @property
    def classes(self) -> int:
        """Classes reported: the class map's length, else the detection layers' classes."""
        if self.options.class_map is not None:
            return len(self.options.class_map)
        return max(int(l.classes) for l in self.layers)

    # -- running ---------------------------------------------------------------------------------
    def detect(self, images, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> list[DetectionResult]:
        """Results for every readable image of `images` (one path or array, or a list mixing
        paths and numpy arrays), in order. Unreadable files go to `on_error(entry, error)`
        (default: a line on stderr) and have no result."""
        return list(self.stream(images, on_error=on_error, base=base))

    def stream(self, images: Iterable, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> Iterator[DetectionResult]:
        """`detect`, one result at a time as batches finish (long lists, progress bars).
        `base`: folder a relative entry is also looked for in (an image list's own folder)."""
        items = _as_list(images)
        on_error = on_error or _report
        w, h = self.input_size
        opts = self.options
        batches = image_batches(items, w, h, opts.letterbox, opts.batch, opts.workers, base=base,
                                keep_image=opts.keep_image, rgb=opts.rgb,
                                on_error=lambda item: on_error(item.entry, item.error))
        overlap = opts.workers == 0 and len(items) > opts.batch
        if overlap:
            batches = prefetch(batches)  # read the next batch while this one runs
        with leave_a_core_for_io() if overlap else nullcontext():
            for good, _ in batches:
                if good:
                    yield from self.run_prepared(torch.stack([g.x for g in good]), [g.size for g in good],
                                                 [g.entry for g in good], [g.index for g in good],
                                                 [g.image for g in good])

    def prepare(self, image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """The network input (C, H, W) for one uint8 array and the image's (width, height)."""
        w, h = self.input_size
        bgr = image[:, :, ::-1] if self.options.rgb and image.ndim == 3 else image
        return prepare_bgr(bgr, w, h, self.options.letterbox)

    def run_prepared(self, x: torch.Tensor, sizes: Sequence[tuple[int, int]],
                     sources: Sequence[str] | None = None, indices: Sequence[int] | None = None,
                     images: Sequence[np.ndarray | None] | None = None) -> list[DetectionResult]:
        """Forward, decode and NMS for a batch already prepared (`prepare`); `sizes` are the
        original images' (width, height)."""
        outputs = self.predictor(x)
        return self.postprocess(outputs, sizes, sources, indices, images)

    def postprocess(self, outputs: Sequence[torch.Tensor], sizes: Sequence[tuple[int, int]],
                    sources: Sequence[str] | None = None, indices: Sequence[int] | None = None,
                    images: Sequence[np.ndarray | None] | None = None) -> list[DetectionResult]:
        """Decode and NMS of the detection layers' outputs for a batch."""
        opts = self.options
        w, h = self.input_size
        if opts.class_map is not None:
            raws = decode_mapped(self.layers, outputs, w, h, sizes, opts.thresh, opts.class_map, opts.letterbox)
        else:
            raws = decode(self.layers, outputs, w, h, sizes, opts.thresh, opts.hier_thresh, opts.letterbox,
                          opts.hier_walk)
        results = []
        for k, (raw, (iw, ih)) in enumerate(zip(raws, sizes)):
            if opts.nms_kind == "obj":
                obj = nms_obj(raw.boxes, raw.objectness, opts.nms)
                live = obj > opts.thresh
                probs = raw.probs
            else:
                obj = raw.objectness
                probs = nms_sort(raw.boxes, raw.objectness, raw.probs, opts.nms)
                probs = torch.where(obj[:, None] > 0, probs, torch.zeros_like(probs))
                live = (probs > 0).any(dim=1)
            idx = torch.nonzero(live).flatten()
            results.append(DetectionResult(
                sources[k] if sources is not None else f"<image {k}>",
                indices[k] if indices is not None else k, int(iw), int(ih),
                raw.boxes[idx].cpu().double().numpy(), obj[idx].cpu().double().numpy(),
                probs[idx].cpu().double().numpy(), opts.names,
                images[k] if images is not None else None))
        return results

    def __call__(self, images, **kwargs) -> list[DetectionResult]:
        return self.detect(images, **kwargs)
