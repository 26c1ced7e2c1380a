"""Running a detector over images: the library entry point behind `darkpy detect` (and `valid`/`map`).

    from darkpy.detect.pipeline import detect_images
    for path, (h, w), dets in detect_images(net, ["data/dog.jpg"], thresh=0.5):
        for d in dets:
            print(d.name or d.cls, d.prob, d.x1, d.y1, d.x2, d.y2)

Pipeline, as Darknet's `detector test`: `load_image_color` -> `letterbox_image` to the network
size (or a plain `resize_image` with `letterbox=False`) -> forward -> `get_network_boxes` ->
`do_nms_sort` -> one `Detection` per (box, class) whose probability survives (> thresh, not
suppressed). Darknet's `detector valid` settings are thresh=0.005, nms=0.45, letterbox.
"""
from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from darkpy.boxes import nms_sort
from darkpy.detect.decode import RawBoxes, decode
from darkpy.errors import DataError
from darkpy.formats.image import IMAGE_SUFFIXES, prepare_bgr

# Darknet's `detector test` / `darknet detect` defaults (src/detector.c, src/darknet.c).
DEFAULT_THRESH = 0.5
DEFAULT_HIER_THRESH = 0.5
DEFAULT_NMS = 0.45
VALID_THRESH = 0.005  # `detector valid` / `detector map`


@dataclass
class Detection:
    """One detected object in original-image pixels.

    cls: class index (a WordTree node for tree networks); name: its name when names were given;
    prob: objectness × class probability (what Darknet prints as a percentage); x1, y1, x2, y2:
    box corners in pixels of the original image, as floats, NOT clipped (see `clipped`);
    objectness: the box's objectness; probs: the box's probability for every class after NMS
    (a numpy array), kept only when asked for (`keep_probs=True`)."""

    cls: int
    prob: float
    x1: float
    y1: float
    x2: float
    y2: float
    objectness: float
    name: str | None = None
    probs: np.ndarray | None = field(default=None, repr=False)

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer corners clipped to the image as Darknet draws them (`draw_detections`)."""
        left, right = max(int(self.x1), 0), min(int(self.x2), width - 1)
        top, bottom = max(int(self.y1), 0), min(int(self.y2), height - 1)
        return left, top, right, bottom

    def valid_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The corners Darknet's `detector valid` writes (1-based pixels, clipped to [1, size])."""
        return (max(self.x1 + 1, 1.0), max(self.y1 + 1, 1.0), min(self.x2 + 1, float(width)),
                min(self.y2 + 1, float(height)))

    def to_dict(self) -> dict:
        return {"class": self.name if self.name is not None else self.cls, "class_id": self.cls,
                "confidence": round(self.prob, 6), "objectness": round(self.objectness, 6),
                "box": [round(v, 2) for v in (self.x1, self.y1, self.x2, self.y2)]}


def detections_from_raw(raw: RawBoxes, width: int, height: int, names: Sequence[str] | None = None,
                        keep_probs: bool = False) -> list[Detection]:
    """One Detection per (box, class) with a non-zero probability, best first."""
    probs = raw.probs
    nz = torch.nonzero((probs > 0) & (raw.objectness[:, None] > 0))
    if nz.numel() == 0:
        return []
    nz = nz.cpu()
    boxes = raw.boxes.cpu().double()
    rows, cols = nz[:, 0], nz[:, 1]
    p = probs.cpu()[rows, cols]
    order = torch.argsort(p, descending=True, stable=True)
    rows, cols, p = rows[order], cols[order], p[order]
    b = boxes[rows]
    x1 = ((b[:, 0] - b[:, 2] / 2) * width).tolist()
    x2 = ((b[:, 0] + b[:, 2] / 2) * width).tolist()
    y1 = ((b[:, 1] - b[:, 3] / 2) * height).tolist()
    y2 = ((b[:, 1] + b[:, 3] / 2) * height).tolist()
    obj = raw.objectness.cpu()[rows].tolist()
    all_probs = probs.cpu().numpy() if keep_probs else None
    out = []
    for k, (r, c, pv) in enumerate(zip(rows.tolist(), cols.tolist(), p.tolist())):
        name = names[c] if names is not None and c < len(names) else None
        out.append(Detection(c, pv, x1[k], y1[k], x2[k], y2[k], obj[k], name,
                             all_probs[r] if all_probs is not None else None))
    return out


def postprocess(layers, outputs: Sequence[torch.Tensor], net_w: int, net_h: int,
                image_sizes: Sequence[tuple[int, int]], thresh: float, hier_thresh: float, nms: float,
                letterbox: bool, names: Sequence[str] | None = None, keep_probs: bool = False,
                class_map: Sequence[int] | None = None) -> list[list[Detection]]:
    """Decode + correct + NMS for a batch; `image_sizes` are (width, height). With `class_map`
    (a `map=` file's tree nodes, e.g. coco9k.map) a WordTree network reports one class per
    listed node, as Darknet's `get_network_boxes` does when given a map."""
    if class_map is not None:
        from darkpy.detect.decode import decode_mapped

        raws = decode_mapped(layers, outputs, net_w, net_h, image_sizes, thresh, class_map, letterbox)
    else:
        raws = decode(layers, outputs, net_w, net_h, image_sizes, thresh, hier_thresh, letterbox)
    result = []
    for raw, (w, h) in zip(raws, image_sizes):
        raw = RawBoxes(raw.boxes, raw.objectness, nms_sort(raw.boxes, raw.objectness, raw.probs, nms))
        result.append(detections_from_raw(raw, w, h, names, keep_probs))
    return result


# -- inputs ----------------------------------------------------------------------------------

def expand_inputs(items: Iterable[str], stdin=None) -> list[str]:
    """Image paths from command-line items: files, folders (their images, sorted), globs, `.txt`
    lists (one path per line, as Darknet's lists) and `-` (a list read from stdin)."""
    from darkpy.formats.datafile import read_list

    paths: list[str] = []
    for item in items:
        item = str(item)
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin
            paths += [line.strip() for line in stream if line.strip()]
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError("folder holds no images", file=p)
            paths += found
        elif p.suffix.lower() == ".txt" and p.is_file():
            paths += read_list(p)
        elif any(ch in item for ch in "*?["):
            found = sorted(glob.glob(item, recursive=True))
            if not found:
                raise DataError(f"no file matches {item!r}")
            paths += found
        else:
            paths.append(item)  # unreadable ones are reported when loading, the rest still run
    return paths


def _report(path: str, message: str) -> None:
    print(f"darkpy: skipping {message}", file=sys.stderr)


def _run(predictor, paths, thresh, hier_thresh, nms, letterbox, batch, names, keep_probs, keep_image,
         workers, on_error, class_map=None):
    from darkpy.net.inference import Predictor

    if not isinstance(predictor, Predictor):
        predictor = Predictor(predictor)
    from darkpy.detect.batches import detection_layers, image_batches

    net = predictor.model
    net_w, net_h = net.net.width, net.net.height
    layers = detection_layers(predictor)
    on_error = on_error or _report
    for good, _ in image_batches(paths, net_w, net_h, letterbox, batch, workers, keep_image=keep_image,
                                 on_error=lambda item: on_error(item.entry, str(item.error))):
        if not good:
            continue
        outputs = predictor(torch.stack([g.x for g in good]))
        sizes = [g.size for g in good]
        dets = postprocess(layers, outputs, net_w, net_h, sizes, thresh, hier_thresh, nms, letterbox, names,
                           keep_probs, class_map)
        for g, d in zip(good, dets):
            w, h = g.size
            yield (g.entry, (h, w), d, g.image) if keep_image else (g.entry, (h, w), d)


def detect_images(net, paths: Sequence[str | Path], thresh: float = DEFAULT_THRESH,
                  hier_thresh: float = DEFAULT_HIER_THRESH, nms: float = DEFAULT_NMS, letterbox: bool = True,
                  batch: int = 1, names: Sequence[str] | None = None, keep_probs: bool = False,
                  workers: int = 0,
                  on_error: Callable[[str, str], None] | None = None,
                  class_map: Sequence[int] | None = None
                  ) -> Iterator[tuple[str, tuple[int, int], list[Detection]]]:
    """Run a detector over image files; yields `(path, (height, width), detections)` per readable
    image, in order. `net` is a darkpy Network (fused for speed internally) or a
    `darkpy.net.inference.Predictor`. Unreadable images are reported to `on_error(path, message)`
    (default: a line on stderr) and skipped. `nms <= 0` disables NMS. Images are loaded and
    letterboxed by a DataLoader (`workers` processes) in batches of `batch`. `class_map`: see
    `postprocess`."""
    yield from _run(net, [str(p) for p in paths], thresh, hier_thresh, nms, letterbox, batch, names,
                    keep_probs, False, workers, on_error, class_map)


def detect_array(predictor, bgr: np.ndarray, thresh: float = DEFAULT_THRESH,
                 hier_thresh: float = DEFAULT_HIER_THRESH,
                 nms: float = DEFAULT_NMS, letterbox: bool = True, names: Sequence[str] | None = None
                 ) -> list[Detection]:
    """Detections for one OpenCV BGR uint8 image (a video frame, say)."""
    return detect_arrays(predictor, [bgr], thresh, hier_thresh, nms, letterbox, names)[0]


def detect_arrays(predictor, images: Sequence[np.ndarray], thresh: float = DEFAULT_THRESH,
                  hier_thresh: float = DEFAULT_HIER_THRESH, nms: float = DEFAULT_NMS, letterbox: bool = True,
                  names: Sequence[str] | None = None) -> list[list[Detection]]:
    from darkpy.net.inference import Predictor

    if not isinstance(predictor, Predictor):
        predictor = Predictor(predictor)
    net = predictor.model
    net_w, net_h = net.net.width, net.net.height
    xs, sizes = [], []
    for bgr in images:
        xs.append(torch.from_numpy(prepare_bgr(bgr, net_w, net_h, letterbox)))
        sizes.append((bgr.shape[1], bgr.shape[0]))
    outputs = predictor(torch.stack(xs))
    return postprocess(predictor.detection_layers, outputs, net_w, net_h, sizes, thresh, hier_thresh, nms,
                       letterbox, names)


# -- drawing ---------------------------------------------------------------------------------

_COLORS = ((1, 0, 1), (0, 0, 1), (0, 1, 1), (0, 1, 0), (1, 1, 0), (1, 0, 0))


def _get_color(c: int, x: int, maximum: int) -> float:
    # Darknet's colour ramp (src/image.c get_color)
    ratio = (x / maximum) * 5
    i, j = int(np.floor(ratio)), int(np.ceil(ratio))
    ratio -= i
    return (1 - ratio) * _COLORS[i][c] + ratio * _COLORS[j][c]


def class_color(cls: int, classes: int) -> tuple[int, int, int]:
    """Darknet's box colour for a class, as an OpenCV BGR tuple."""
    classes = max(classes, 1)
    offset = cls * 123457 % classes
    r, g, b = (_get_color(k, offset, classes) for k in (2, 1, 0))
    return int(b * 255), int(g * 255), int(r * 255)


def draw_detections(bgr: np.ndarray, dets: Sequence[Detection], classes: int) -> np.ndarray:
    """Boxes and labels drawn on a copy of `bgr` (one box per object; a box predicted for several
    classes gets one label listing them, as Darknet)."""
    import cv2

    img = bgr.copy()
    h, w = img.shape[:2]
    thick = max(1, int(h * 0.006))
    groups: dict[tuple, list[Detection]] = {}
    for d in dets:
        groups.setdefault((d.x1, d.y1, d.x2, d.y2), []).append(d)
    for group in groups.values():
        d = group[0]
        left, top, right, bottom = d.clipped(w, h)
        color = class_color(d.cls, classes)
        cv2.rectangle(img, (left, top), (right, bottom), color, thick)
        label = ", ".join(g.name if g.name is not None else str(g.cls) for g in group)
        scale = max(0.4, h / 1000)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y0 = max(top - th - base, 0)
        cv2.rectangle(img, (left, y0), (left + tw + 2, y0 + th + base), color, -1)
        cv2.putText(img, label, (left + 1, y0 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return img


def format_detections(dets: Sequence[Detection]) -> list[str]:
    """Darknet's console lines: `dog: 82%`."""
    return [f"{d.name if d.name is not None else d.cls}: {d.prob * 100:.0f}%" for d in dets]
