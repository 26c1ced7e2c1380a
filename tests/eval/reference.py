"""Slow, loop-by-loop restatements of the two reference evaluators' rules, for property tests.

Written from the rules as documented (voc_eval: best-overlap box, difficult neither, second hit
false; COCOeval: per image and class greedy matching with ignore tiers and crowd reuse), one
detection at a time, so the vectorised code has something independent to agree with.
"""
from __future__ import annotations

import numpy as np

from darkpy.eval.coco import AREA_RANGES, IOU_THRS, MAX_DETS, REC_THRS, coco_stats


def voc_reference(dets, gts, iou_thresh=0.5):
    """dets: list of (img, score, box); gts: list of (img, box, difficult). Returns (tp, fp) in the order used."""
    order = np.argsort(-np.array([d[1] for d in dets], np.float64))
    used = set()
    tp, fp = [], []
    for i in order:
        img, _, b = dets[i]
        best, arg = -np.inf, None
        for j, (gimg, g, _) in enumerate(gts):
            if gimg != img:
                continue
            iw = max(min(b[2], g[2]) - max(b[0], g[0]) + 1, 0)
            ih = max(min(b[3], g[3]) - max(b[1], g[1]) + 1, 0)
            inter = iw * ih
            uni = (b[2] - b[0] + 1) * (b[3] - b[1] + 1) + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - inter
            if inter / uni > best:
                best, arg = inter / uni, j
        if best > iou_thresh:
            if gts[arg][2]:
                tp.append(0), fp.append(0)
            elif arg in used:
                tp.append(0), fp.append(1)
            else:
                used.add(arg)
                tp.append(1), fp.append(0)
        else:
            tp.append(0), fp.append(1)
    return np.array(tp), np.array(fp)


def _iou(d, g, crowd):
    iw = min(d[2], g[2]) - max(d[0], g[0])
    ih = min(d[3], g[3]) - max(d[1], g[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    da = (d[2] - d[0]) * (d[3] - d[1])
    ga = (g[2] - g[0]) * (g[3] - g[1])
    return inter / (da if crowd else da + ga - inter)


def coco_reference(dets, gts, images, classes):
    """dets: list of (img, cls, score, box); gts: list of (img, cls, box, area, crowd). Returns stats."""
    T, R, A, M = len(IOU_THRS), len(REC_THRS), len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((T, R, classes, A, M))
    recall = -np.ones((T, classes, A, M))
    for k in range(classes):
        for a, (lo, hi) in enumerate(AREA_RANGES.values()):
            per_image = []
            for img in range(images):
                g = [x for x in gts if x[0] == img and x[1] == k]
                d = [x for x in dets if x[0] == img and x[1] == k]
                if not g and not d:
                    continue
                g_ig = [bool(x[4]) or x[3] < lo or x[3] > hi for x in g]
                gorder = sorted(range(len(g)), key=lambda i: g_ig[i])
                g = [g[i] for i in gorder]
                g_ig = [g_ig[i] for i in gorder]
                d = sorted(d, key=lambda x: -x[2])[:MAX_DETS[-1]]
                dtm = np.zeros((T, len(d)), bool)
                dig = np.zeros((T, len(d)), bool)
                for t, thr in enumerate(IOU_THRS):
                    taken = [False] * len(g)
                    for di, det in enumerate(d):
                        best, m = min(thr, 1 - 1e-10), -1
                        for gi, gt in enumerate(g):
                            if taken[gi] and not gt[4]:
                                continue
                            if m > -1 and not g_ig[m] and g_ig[gi]:
                                break
                            v = _iou(det[3], gt[2], gt[4])
                            if v < best:
                                continue
                            best, m = v, gi
                        if m == -1:
                            continue
                        taken[m] = True
                        dtm[t, di] = True
                        dig[t, di] = g_ig[m]
                area = np.array([(x[3][2] - x[3][0]) * (x[3][3] - x[3][1]) for x in d])
                out = (area < lo) | (area > hi) if len(d) else np.zeros(0, bool)
                dig = dig | (~dtm & out[None])
                per_image.append((np.array([x[2] for x in d]), dtm, dig, np.array(g_ig, bool)))
            if not per_image:
                continue
            npig = sum(int((~e[3]).sum()) for e in per_image)
            if npig == 0:
                continue
            for mi, md in enumerate(MAX_DETS):
                scores = np.concatenate([e[0][:md] for e in per_image])
                inds = np.argsort(-scores, kind="mergesort")
                dtm = np.concatenate([e[1][:, :md] for e in per_image], 1)[:, inds]
                dig = np.concatenate([e[2][:, :md] for e in per_image], 1)[:, inds]
                tps = np.cumsum(dtm & ~dig, 1).astype(float)
                fps = np.cumsum(~dtm & ~dig, 1).astype(float)
                for t in range(T):
                    tp, fp = tps[t], fps[t]
                    nd = len(tp)
                    rc = tp / npig
                    pr = list(tp / (fp + tp + np.spacing(1)))
                    recall[t, k, a, mi] = rc[-1] if nd else 0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    q = np.zeros(R)
                    for ri, pi in enumerate(np.searchsorted(rc, REC_THRS, side="left")):
                        if pi < nd:
                            q[ri] = pr[pi]
                    precision[t, :, k, a, mi] = q
    return coco_stats(precision, recall)
