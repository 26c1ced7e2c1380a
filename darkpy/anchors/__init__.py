"""Anchor boxes from the training labels: YOLOv2's dimension clusters.

    from darkpy.anchors import load_boxes, kmeans_anchors, avg_iou
    boxes = load_boxes(data="voc.data")
    result = kmeans_anchors(boxes.wh, 5, restarts=10, seed=0)
    result.anchors  # (5, 2) normalised w, h, smallest first; result.avg_iou

`darkpy kmeans` is the command-line face of this package.
"""
from darkpy.anchors.boxset import BoxSet, load_boxes
from darkpy.anchors.cfgedit import format_anchors, read_cfg_text, write_anchors
from darkpy.anchors.kmeans import (
    Clusters,
    Sweep,
    avg_iou,
    iou_wh,
    kmeans_anchors,
    knee_point,
    sweep,
)
from darkpy.anchors.units import from_units, parse_anchor_list, to_units

__all__ = [
    "BoxSet", "Clusters", "Sweep", "avg_iou", "format_anchors", "from_units", "iou_wh",
    "kmeans_anchors", "knee_point", "load_boxes", "parse_anchor_list",
    "read_cfg_text", "sweep", "to_units", "write_anchors",
]
