"""Scoring detections against ground truth: VOC 2007 11-point, VOC area and COCO metrics.

Everything here works on in-memory arrays, so a network (`darkpy valid`, `darkpy map DATA CFG
WEIGHTS`, `darkpy train --map`) and result files from Darknet feed the same `evaluate()`.
"""
from darkpy.eval.detections import Detections, GroundTruth
from darkpy.eval.evaluate import EvalReport, evaluate

__all__ = ["Detections", "GroundTruth", "EvalReport", "evaluate"]
