"""What the two detection engines share: `DetectorBase`, the interface `darkpy detect`, video and
the Python API program against, and its `postprocess` (decode, NMS, results: written once, on
tensors or arrays). `darkpy.detect.detector.Detector` runs the network in torch (any device,
batches, every layer type), `darkpy.detect.numpy_engine.NumpyDetector` in numpy (YOLOv2-style
[region] networks, no torch import); both take a `DetectOptions` and return the same
`DetectionResult`s.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from darkpy.boxes import nms_obj, nms_sort, xp_any, xp_cat, xp_nonzero, xp_to_numpy, xp_where0
from darkpy.detect.decode import decode, decode_mapped
from darkpy.detect.options import DetectOptions
from darkpy.detect.results import DetectionResult
from darkpy.errors import DarkpyError
from darkpy.formats.image import prepare_bgr


def report_skipped(entry: str, error: DarkpyError) -> None:
    print(f"darkpy: skipping {error}", file=sys.stderr)


def as_list(images) -> list:
    if isinstance(images, (str, Path, np.ndarray)):
        return [images]
    return list(images)


class DetectorBase:
    """A network ready to detect, whichever engine runs it. Subclasses give `input_size`,
    `detection_layers`, `images_per_forward` and `forward`; the rest is shared."""

    options: DetectOptions

    def __init__(self, options: DetectOptions | None, changes: dict):
        options = options if options is not None else DetectOptions()
        self.options = replace(options, **changes) if changes else options

    # -- facts ---------------------------------------------------------------------------------
    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the images are prepared to."""
        raise NotImplementedError

    @property
    def detection_layers(self) -> list:
        raise NotImplementedError

    @property
    def images_per_forward(self) -> int:
        """Images run together in one forward pass (their results arrive together)."""
        raise NotImplementedError

    @property
    def classes(self) -> int:
        """Classes reported: the class map's length, else the detection layers' classes."""
        if self.options.class_map is not None:
            return len(self.options.class_map)
        return max(int(l.classes) for l in self.detection_layers)

    # -- running ---------------------------------------------------------------------------------
    def forward(self, x) -> list:
        """The detection layers' outputs for a prepared batch (B, C, H, W)."""
        raise NotImplementedError

    def stream(self, images: Iterable, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> Iterator[DetectionResult]:
        """`detect`, one result at a time as batches finish (long lists, progress bars).
        `base`: folder a relative entry is also looked for in (an image list's own folder)."""
        raise NotImplementedError

    def detect(self, images, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> list[DetectionResult]:
        """Results for every readable image of `images` (one path or array, or a list mixing
        paths and numpy arrays), in order. Unreadable files go to `on_error(entry, error)`
        (default: a line on stderr) and have no result."""
        return list(self.stream(images, on_error=on_error, base=base))

    def __call__(self, images, **kwargs) -> list[DetectionResult]:
        return self.detect(images, **kwargs)

    def prepare(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The network input (C, H, W) float32 for one uint8 array and the image's (width, height)."""
        w, h = self.input_size
        bgr = image[:, :, ::-1] if self.options.rgb and image.ndim == 3 else image
        return prepare_bgr(bgr, w, h, self.options.letterbox), (int(bgr.shape[1]), int(bgr.shape[0]))

    def run_prepared(self, x, sizes: Sequence[tuple[int, int]], sources: Sequence[str] | None = None,
                     indices: Sequence[int] | None = None,
                     images: Sequence[np.ndarray | None] | None = None) -> list[DetectionResult]:
        """Forward, decode and NMS for a batch already prepared (`prepare`, stacked); `sizes`
        are the original images' (width, height)."""
        return self.postprocess(self.forward(x), sizes, sources, indices, images)

    def postprocess(self, outputs: Sequence, sizes: Sequence[tuple[int, int]],
                    sources: Sequence[str] | None = None, indices: Sequence[int] | None = None,
                    images: Sequence[np.ndarray | None] | None = None) -> list[DetectionResult]:
        """Decode and NMS of the detection layers' outputs for a batch (tensors on their device,
        or arrays), then one copy of what survived to the host."""
        opts = self.options
        w, h = self.input_size
        layers = self.detection_layers
        if opts.class_map is not None:
            raws = decode_mapped(layers, outputs, w, h, sizes, opts.thresh, opts.class_map, opts.letterbox)
        else:
            raws = decode(layers, outputs, w, h, sizes, opts.thresh, opts.hier_thresh, opts.letterbox,
                          opts.hier_walk)
        if not raws:
            return []
        kept = []
        for raw in raws:
            if opts.nms_kind == "obj":
                obj = nms_obj(raw.boxes, raw.objectness, opts.nms)
                live = obj > opts.thresh
                probs = raw.probs
            else:
                obj = raw.objectness
                probs = nms_sort(raw.boxes, obj, raw.probs, opts.nms)
                probs = xp_where0(obj[:, None] > 0, probs)
                live = xp_any(probs > 0, 1)
            idx = xp_nonzero(live)
            kept.append(xp_cat([raw.boxes[idx], obj[idx][:, None], probs[idx]], 1))
        rows = xp_to_numpy(xp_cat(kept, 0))  # one copy per batch
        results, start = [], 0
        for k, (part, (iw, ih)) in enumerate(zip(kept, sizes)):
            mine, start = rows[start:start + part.shape[0]], start + part.shape[0]
            results.append(DetectionResult(
                sources[k] if sources is not None else f"<image {k}>",
                indices[k] if indices is not None else k, int(iw), int(ih),
                mine[:, :4], mine[:, 4], mine[:, 5:], opts.names, images[k] if images is not None else None))
        return results
