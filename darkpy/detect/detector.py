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

from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from darkpy.detect.base import DetectorBase, as_list, report_skipped
from darkpy.detect.batches import image_batches
from darkpy.detect.decode import tree_map_applies
from darkpy.detect.options import DetectOptions
from darkpy.detect.lanes import ForwardLanes
from darkpy.detect.overlap import CoreSplit, prefetch
from darkpy.detect.results import DetectionResult
from darkpy.errors import DarkpyError, DataError, UsageError
from darkpy.net.inference import Predictor
from darkpy.net.spec import NetworkSpec


class Detector(DetectorBase):
    """A network ready to detect, on torch: `Detector(cfg, weights, options)` or
    `Detector(network, options=...)` (a darkpy Network, left untouched, or a
    `darkpy.net.inference.Predictor`); `cfg` may be a path or a `NetworkSpec` already read."""

    def __init__(self, cfg, weights: str | Path | None = None, options: DetectOptions | None = None,
                 **changes):
        super().__init__(options, changes)
        options = self.options
        size = options.input_size()
        if isinstance(cfg, Predictor):
            predictor = cfg
        else:
            if isinstance(cfg, (str, Path, NetworkSpec)):  # loaded here: folded in place, no copy
                predictor = Predictor.load(cfg, weights, size=size, device=options.device,
                                           precision=options.precision)
                size = None
            else:
                predictor = Predictor(cfg, device=options.device, precision=options.precision)
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
    def detection_layers(self) -> list:
        return self.layers

    @property
    def images_per_forward(self) -> int:
        return self.options.batch

    # -- running ---------------------------------------------------------------------------------
    def forward(self, x) -> list[torch.Tensor]:
        return self.predictor(torch.as_tensor(x))

    def stream(self, images: Iterable, on_error: Callable[[str, DarkpyError], None] | None = None,
               base: Path | None = None) -> Iterator[DetectionResult]:
        """`detect`, one result at a time as batches finish (long lists, progress bars).
        `base`: folder a relative entry is also looked for in (an image list's own folder)."""
        items = as_list(images)
        on_error = on_error or report_skipped
        w, h = self.input_size
        opts = self.options
        batches = image_batches(items, w, h, opts.letterbox, opts.batch, opts.workers, base=base,
                                keep_image=opts.keep_image, rgb=opts.rgb,
                                on_error=lambda item: on_error(item.entry, item.error))
        overlap = opts.workers == 0 and len(items) > opts.batch
        if overlap:
            batches = prefetch(batches, depth=1)  # read the next batch while this one runs
        good_batches = (good for good, _ in batches if good)

        def run(good) -> list[DetectionResult]:
            return self.run_prepared(torch.from_numpy(np.stack([g.x for g in good])),
                                     [g.size for g in good], [g.entry for g in good],
                                     [g.index for g in good], [g.image for g in good])

        lanes = ForwardLanes.for_machine(self.predictor.device.type) if overlap else None
        if lanes is not None:   # whole batches side by side on the cores (darkpy.detect.lanes)
            for results in lanes.map(run, lanes.balanced(good_batches, -(-len(items) // opts.batch))):
                yield from results
            return
        with CoreSplit() as split:     # all cores to torch, or one left to the threads: measured
            for good in good_batches:
                with split.forward(len(good)):
                    results = run(good)
                yield from results
