"""A quick detection check for training: VOC-style mAP and recall of a region network on a list.

Used by the end-to-end training test, the demo recipe and `Trainer` hooks; the full evaluator
(`darkpy map`) lives elsewhere. Images are resized to the network size as in training (no
letterbox); boxes are Darknet's region boxes; a detection's score is objectness x class
probability; per-class greedy NMS at 0.45; AP is the area under the interpolated
precision/recall curve (VOC 2010+), a detection matching a ground-truth box of its class at
IoU >= 0.5 (each ground truth once). `recall` counts ground-truth boxes found by a detection of
their class with score >= `recall_thresh` (default 0.25, Darknet's detection threshold).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from darkpy.augment import Jitter, crop_resize
from darkpy.labels import label_path_for, read_labels


@dataclass
class EvalResult:
    map: float
    ap: list[float]
    recall: float
    precision: float
    images: int
    boxes: int
    detections: int = 0
    per_class_recall: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        aps = ", ".join(f"{a:.3f}" for a in self.ap)
        return (f"mAP@0.5 {self.map:.4f} (per class {aps}); recall@0.25 {self.recall:.4f}, precision@0.25 "
                f"{self.precision:.4f} over {self.boxes} boxes in {self.images} images")


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x, y, w, h) box with many."""
    l1, r1, t1, b1 = box[0] - box[2] / 2, box[0] + box[2] / 2, box[1] - box[3] / 2, box[1] + box[3] / 2
    l2, r2 = boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 0] + boxes[:, 2] / 2
    t2, b2 = boxes[:, 1] - boxes[:, 3] / 2, boxes[:, 1] + boxes[:, 3] / 2
    w = np.clip(np.minimum(r1, r2) - np.maximum(l1, l2), 0, None)
    h = np.clip(np.minimum(b1, b2) - np.maximum(t1, t2), 0, None)
    inter = w * h
    return inter / np.maximum(box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter, 1e-12)


def region_detections(layer, out: torch.Tensor, thresh: float) -> list[np.ndarray]:
    """Per image an (n, 6) array: x y w h score class (scores above thresh, before NMS)."""
    n, _, h, w = out.shape
    a, e = layer.num, layer.entries
    v = out.detach().float().cpu().reshape(n, a, e, h, w)
    jj, ii = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    bias = layer.biases.detach().float().cpu()
    x = (ii + v[:, :, 0]) / w
    y = (jj + v[:, :, 1]) / h
    bw = torch.exp(v[:, :, 2]) * bias[:, 0].view(1, a, 1, 1) / w
    bh = torch.exp(v[:, :, 3]) * bias[:, 1].view(1, a, 1, 1) / h
    scores = v[:, :, 4:5] * v[:, :, 5:]                                 # (n, a, classes, h, w)
    result = []
    for k in range(n):
        s = scores[k]
        idx = (s > thresh).nonzero(as_tuple=False)
        if len(idx) == 0:
            result.append(np.zeros((0, 6), np.float32))
            continue
        an, c, r, col = idx.unbind(1)
        det = torch.stack([x[k, an, r, col], y[k, an, r, col], bw[k, an, r, col], bh[k, an, r, col],
                           s[an, c, r, col], c.float()], 1)
        result.append(det.numpy())
    return result


def nms(dets: np.ndarray, thresh: float = 0.45) -> np.ndarray:
    keep = []
    for c in np.unique(dets[:, 5]) if len(dets) else []:
        d = dets[dets[:, 5] == c]
        d = d[np.argsort(-d[:, 4], kind="stable")]
        while len(d):
            keep.append(d[0])
            if len(d) == 1:
                break
            d = d[1:][_iou(d[0], d[1:, :4]) <= thresh]
    return np.array(keep, np.float32).reshape(-1, 6)


def _ap(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@torch.no_grad()
def evaluate_detector(net, paths: list[str], *, thresh: float = 0.005, nms_thresh: float = 0.45,
                      iou_thresh: float = 0.5, recall_thresh: float = 0.25, batch: int = 16,
                      device=None) -> EvalResult:
    import cv2

    layer = net.detection_layers[-1]
    classes = layer.classes
    was_training = net.training
    net.eval()
    dev = device or next(net.parameters()).device
    w, h = net.net.width, net.net.height
    per_class: list[list[tuple[float, int]]] = [[] for _ in range(classes)]
    n_gt = np.zeros(classes, int)
    found = np.zeros(classes, int)
    confident = 0
    confident_tp = 0
    images = 0
    none = Jitter(0, 0, 0, 0, False)
    try:
        for start in range(0, len(paths), batch):
            chunk = []
            for p in paths[start:start + batch]:
                bgr = cv2.imread(p, cv2.IMREAD_COLOR)
                if bgr is None:
                    continue
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
                label = label_path_for(p)
                gt = read_labels(label, classes) if Path(label).exists() else np.zeros((0, 5), np.float32)
                chunk.append((crop_resize(rgb, none, w, h).transpose(2, 0, 1), gt))
            if not chunk:
                continue
            x = torch.from_numpy(np.stack([c[0] for c in chunk])).to(dev)
            out = net(x)
            for dets, (_, gt) in zip(region_detections(layer, out, thresh), chunk):
                images += 1
                dets = nms(dets, nms_thresh)
                gt_boxes = gt[:, 1:5]
                gt_cls = gt[:, 0].astype(int)
                for c in range(classes):
                    n_gt[c] += int((gt_cls == c).sum())
                used = np.zeros(len(gt), bool)
                for d in dets[np.argsort(-dets[:, 4], kind="stable")]:
                    c = int(d[5])
                    cand = np.where(gt_cls == c)[0]   # VOC: the best-overlapping box, taken or not
                    hit = False
                    if len(cand):
                        ious = _iou(d[:4], gt_boxes[cand])
                        best = int(np.argmax(ious))
                        if ious[best] >= iou_thresh and not used[cand[best]]:
                            used[cand[best]] = True
                            hit = True
                            if d[4] >= recall_thresh:
                                found[c] += 1
                    per_class[c].append((float(d[4]), int(hit)))
                    if d[4] >= recall_thresh:
                        confident += 1
                        confident_tp += int(hit)
    finally:
        net.train(was_training)
    aps = []
    for c in range(classes):
        arr = np.array(per_class[c], np.float64).reshape(-1, 2)
        aps.append(_ap(arr[:, 1], arr[:, 0], int(n_gt[c])))
    valid = [a for a in aps if not np.isnan(a)]
    total = int(n_gt.sum())
    return EvalResult(float(np.mean(valid)) if valid else 0.0, aps, found.sum() / max(1, total),
                      confident_tp / max(1, confident), images, total, sum(len(p) for p in per_class),
                      [f / max(1, n) for f, n in zip(found, n_gt)])
