"""Turning detection-layer outputs into boxes, as Darknet's `get_network_boxes` does.

Input: the outputs of `[region]` / `[yolo]` layers after their forward pass (darkpy's layers
already apply Darknet's test-time activations). Output: a `RawBoxes` per image with every
candidate box in Darknet's order, relative to the original image (x, y, w, h centre format),
its objectness and one probability per class, zeroed below `thresh`, exactly as
src/region_layer.c (`get_region_detections`, `correct_region_boxes`) and src/yolo_layer.c
(`get_yolo_detections`) compute them. Written once for both engines: the outputs may be torch
tensors (on any device: the arithmetic stays there) or numpy arrays (the torch-free engine), and
the layers specs or torch layers. Everything is batched arithmetic; the only loop is over the
(few) levels of a WordTree (tensors only: WordTree networks run on the torch engine).

- region: box n of cell (row, col) is entry `n*h*w + row*w + col`; x = (col + σtx)/w,
  y = (row + σty)/h, w = exp(tw)·anchor_w/w, h = exp(th)·anchor_h/h (anchors in grid cells);
  objectness is kept only above `thresh`; class probability = objectness × P(class), zeroed at or
  below `thresh`. With a WordTree (`tree=`), the conditional probabilities are multiplied down the
  tree and Darknet's top-down walk (`hierarchy_top_prediction`, stopping below `hier_thresh`;
  `hier_walk="paper"` for the paper's, darkpy.wordtree.walk) picks ONE node, whose probability
  is the objectness.
- yolo: cells outer, anchors inner; only boxes with objectness > thresh exist (darkpy keeps the
  others with zero objectness so that shapes are fixed; `nms_sort` and `detections` skip them);
  anchors in pixels of the network input.
- correction: with letterbox, boxes are mapped from the letterboxed canvas back to the image
  (Darknet's integer `new_w`/`new_h`); without, they are already relative to the image.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from darkpy.boxes import (is_tensor, xp_arange, xp_asarray, xp_cat, xp_exp, xp_float32, xp_ones, xp_permute,
                          xp_stack, xp_where0)
from darkpy.errors import DataError
from darkpy.formats.image import correct_boxes


@dataclass
class RawBoxes:
    """All candidate boxes of one image (Darknet's `detection` array), as tensors or arrays
    (whichever the network's outputs were)."""

    boxes: Any       # (M, 4) x, y, w, h relative to the image
    objectness: Any  # (M,) zero where at or below thresh
    probs: Any       # (M, classes)


def _anchors(layer, like):
    """(num, 2) anchors in `like`'s type: the torch layer's buffer when there is one."""
    biases = getattr(layer, "biases", None)
    if is_tensor(like) and is_tensor(biases):
        return biases.to(like.device, like.dtype)
    return xp_asarray(layer.anchors, like).reshape(-1, 2)


def _thresholded(scale, cls, thresh: float):
    """Objectness kept above thresh; class probability = objectness x P(class), kept above
    thresh where the objectness is."""
    above = scale > thresh
    prob = scale[..., None] * cls
    return xp_where0(above, scale), xp_where0((prob > thresh) & above[..., None], prob)


def decode_region(layer, out, thresh: float, hier_thresh: float = 0.5, hier_walk: str = "darknet"):
    """(B, num*(coords+1+classes), h, w) region output (tensor or array) -> boxes (B, M, 4)
    relative to the network input, objectness (B, M), probs (B, M, classes); M = num*h*w in
    Darknet's order. `layer`: the region's spec (or torch layer). `hier_walk`: which WordTree walk
    names a tree box's class (darkpy.wordtree.walk; tensors only)."""
    b, _, h, w = out.shape
    num, coords, classes = layer.num, layer.coords, layer.classes
    out = xp_float32(out)
    v = out.reshape(b, num, coords + 1 + classes, h, w)
    rows = xp_arange(h, out).reshape(h, 1)
    cols = xp_arange(w, out).reshape(1, w)
    anchors = _anchors(layer, out)           # (num, 2) in grid cells
    x = (cols + v[:, :, 0]) / w
    y = (rows + v[:, :, 1]) / h
    bw = xp_exp(v[:, :, 2]) * anchors[:, 0].reshape(1, num, 1, 1) / w
    bh = xp_exp(v[:, :, 3]) * anchors[:, 1].reshape(1, num, 1, 1) / h
    boxes = xp_stack([x, y, bw, bh], -1).reshape(b, num * h * w, 4)
    if layer.background:
        scale = xp_ones((b, num * h * w), out)
        cls = v[:, :, coords:coords + classes]
    else:
        scale = v[:, :, coords].reshape(b, num * h * w)
        cls = v[:, :, coords + 1:]
    cls = xp_permute(cls, (0, 1, 3, 4, 2)).reshape(b, num * h * w, classes)
    if layer.tree is None:
        objectness, probs = _thresholded(scale, cls, thresh)
        return boxes, objectness, probs
    # WordTree: conditional probabilities multiplied down the tree, and the walk picks ONE node,
    # whose probability is the objectness (torch: trees run on the torch engine only)
    import torch

    from darkpy.wordtree.hierarchy import hierarchy_predictions
    from darkpy.wordtree.walk import walk_function

    objectness = xp_where0(scale > thresh, scale)
    absolute = hierarchy_predictions(cls, layer.tree)
    top = walk_function(hier_walk)(absolute.reshape(-1, classes), layer.tree, hier_thresh).reshape(b, -1)
    probs = torch.zeros_like(cls)
    probs.scatter_(2, top[..., None], objectness[..., None])
    return boxes, objectness, probs


def decode_yolo(layer, out, thresh: float, net_w: int, net_h: int):
    """(B, len(mask)*(5+classes), h, w) yolo output -> boxes (B, h*w*n, 4) relative to the
    network input (cells outer, anchors inner, as Darknet), objectness, probs."""
    b, _, h, w = out.shape
    n, classes = layer.num, layer.classes
    out = xp_float32(out)
    v = xp_permute(out.reshape(b, n, 5 + classes, h, w), (0, 3, 4, 1, 2))  # (B, h, w, n, entries)
    rows = xp_arange(h, out).reshape(h, 1, 1)
    cols = xp_arange(w, out).reshape(1, w, 1)
    anchors = xp_asarray(layer.anchors, out).reshape(-1, 2)[list(layer.mask)]
    x = (cols + v[..., 0]) / w
    y = (rows + v[..., 1]) / h
    bw = xp_exp(v[..., 2]) * anchors[:, 0] / net_w
    bh = xp_exp(v[..., 3]) * anchors[:, 1] / net_h
    boxes = xp_stack([x, y, bw, bh], -1).reshape(b, h * w * n, 4)
    obj = v[..., 4].reshape(b, h * w * n)
    cls = v[..., 5:].reshape(b, h * w * n, classes)
    objectness, probs = _thresholded(obj, cls, thresh)
    return boxes, objectness, probs


def decode(layers: Sequence, outputs: Sequence, net_w: int, net_h: int,
           image_sizes: Sequence[tuple[int, int]], thresh: float = 0.5, hier_thresh: float = 0.5,
           letterbox: bool = True, hier_walk: str = "darknet") -> list[RawBoxes]:
    """Darknet's `get_network_boxes` for a batch: one `RawBoxes` per image.

    `layers`/`outputs`: the detection layers (specs or torch layers) and their outputs (same
    batch; tensors or arrays), in network order; `image_sizes`: (width, height) of each original
    image."""
    parts_b, parts_o, parts_p = [], [], []
    for layer, out in zip(layers, outputs):
        if layer.section_name == "region":
            bx, ob, pr = decode_region(layer, out, thresh, hier_thresh, hier_walk)
        elif layer.section_name == "yolo":
            bx, ob, pr = decode_yolo(layer, out, thresh, net_w, net_h)
        else:
            raise ValueError(f"layer {layer.index} [{layer.section_name}] is not a detection layer")
        parts_b.append(bx)
        parts_o.append(ob)
        parts_p.append(pr)
    if len({p.shape[-1] for p in parts_p}) > 1:
        raise ValueError("detection layers disagree on the number of classes")
    boxes = xp_cat(parts_b, 1)
    objectness = xp_cat(parts_o, 1)
    probs = xp_cat(parts_p, 1)
    result = []
    for i, (iw, ih) in enumerate(image_sizes):
        corrected = correct_boxes(boxes[i], iw, ih, net_w, net_h, letterbox)
        result.append(RawBoxes(corrected, objectness[i], probs[i]))
    return result


def decode_mapped(layers, outputs, net_w: int, net_h: int, image_sizes, thresh: float,
                  class_map: Sequence[int], letterbox: bool = True):
    """Darknet's `get_network_boxes` with a `map=` table on a WordTree region layer (YOLO9000 on
    ImageNet detection): class j's probability is objectness × the absolute tree probability of
    node `class_map[j]`, kept above `thresh`; no tree walk. Only for single-region-layer networks
    (tensors: trees run on the torch engine)."""
    import torch

    from darkpy.wordtree.hierarchy import hierarchy_predictions

    (layer,), (out,) = layers, outputs
    boxes, objectness, _ = decode_region(layer, out, thresh, 0.5)  # the walk's result is not used
    b, _, h, w = out.shape
    num, coords, classes = layer.num, layer.coords, layer.classes
    v = out.float().reshape(b, num, coords + 1 + classes, h, w)
    scale = v[:, :, coords].reshape(b, num * h * w)
    cls = v[:, :, coords + 1:].permute(0, 1, 3, 4, 2).reshape(b, num * h * w, classes)
    index = torch.as_tensor(list(class_map), dtype=torch.long, device=out.device)
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= classes):
        raise DataError(f"the map= file names node {int(index.max())}, outside the tree's {classes} nodes")
    prob = scale[..., None] * hierarchy_predictions(cls, layer.tree)[..., index]
    probs = xp_where0(prob > thresh, prob)
    return [RawBoxes(correct_boxes(boxes[i], iw, ih, net_w, net_h, letterbox), objectness[i], probs[i])
            for i, (iw, ih) in enumerate(image_sizes)]


def tree_map_applies(net) -> bool:
    """Darknet applies `map=` only to a WordTree region layer (one detection layer)."""
    layers = net.detection_layers
    return (len(layers) == 1 and layers[0].section_name == "region"
            and getattr(layers[0], "tree", None) is not None and not getattr(layers[0], "background", 0))
