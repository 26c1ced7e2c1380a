"""A deliberately plain, loop-by-loop region loss (Darknet's sequential semantics), used only to
cross-check the vectorised RegionLoss on inputs where truths collide."""
from __future__ import annotations

import math

import numpy as np


def _iou(a, b):
    def ov(x1, w1, x2, w2):
        return min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2)
    w, h = ov(a[0], a[2], b[0], b[2]), ov(a[1], a[3], b[1], b[3])
    inter = 0.0 if (w < 0 or h < 0) else w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def reference_delta(region, out, truth, seen):
    """out: activated output (N, A, E, H, W) numpy float64; truth (N, T, 5). Returns delta, stats."""
    N, A, E, H, W = out.shape
    K = region.classes
    tree = region.tree
    bias = np.asarray(region.anchors, dtype=np.float64).reshape(A, 2)
    d = np.zeros_like(out)
    s = dict(iou=0.0, cat=0.0, obj=0.0, anyobj=0.0, recall=0.0, count=0, class_count=0)

    def pbox(b, n, j, i):
        return ((i + out[b, n, 0, j, i]) / W, (j + out[b, n, 1, j, i]) / H,
                math.exp(out[b, n, 2, j, i]) * bias[n, 0] / W, math.exp(out[b, n, 3, j, i]) * bias[n, 1] / H)

    def box_delta(tb, b, n, j, i, scale):
        p = pbox(b, n, j, i)
        t = (tb[0] * W - i, tb[1] * H - j, math.log(tb[2] * W / bias[n, 0]), math.log(tb[3] * H / bias[n, 1]))
        for k in range(4):
            d[b, n, k, j, i] = scale * (t[k] - out[b, n, k, j, i])
        return _iou(p, tb)

    def class_delta(b, n, j, i, c):
        c_out, c_d = out[b, n, 5:, j, i], d[b, n, 5:, j, i]
        if tree is not None:
            pred = 1.0
            while c >= 0:
                pred *= c_out[c]
                g = tree.group[c]
                lo = tree.group_offset[g]
                for k in range(lo, lo + tree.group_size[g]):
                    c_d[k] = region.class_scale * (0 - c_out[k])
                c_d[c] = region.class_scale * (1 - c_out[c])
                c = tree.parent[c]
            s["cat"] += pred
            return
        if c_d[0] != 0 and not region.softmax:
            c_d[c] = region.class_scale * (1 - c_out[c])
            return
        for k in range(K):
            c_d[k] = region.class_scale * ((k == c) - c_out[k])
        s["cat"] += c_out[c]

    for b in range(N):
        boxes = []
        for t in range(truth.shape[1]):
            if truth[b, t, 0] == 0:
                break
            boxes.append(truth[b, t])
        if tree is not None:
            co = [tb for tb in boxes if tb[0] > 100000 and tb[1] > 100000]
            if co:
                c = int(co[0][4])
                best, best_loc = 0.0, (0, 0, 0)
                for n in range(A):
                    for j in range(H):
                        for i in range(W):
                            d[b, n, 4, j, i] = region.noobject_scale * (0 - out[b, n, 4, j, i])
                            p, k = out[b, n, 4, j, i], c
                            while k >= 0:
                                p *= out[b, n, 5 + k, j, i]
                                k = tree.parent[k]
                            if p > best:
                                best, best_loc = p, (n, j, i)
                n, j, i = best_loc
                class_delta(b, n, j, i, c)
                d[b, n, 4, j, i] = 0
                s["class_count"] += 1
                continue
        for j in range(H):
            for i in range(W):
                for n in range(A):
                    p = pbox(b, n, j, i)
                    best = max([_iou(p, tb[:4]) for tb in boxes] + [0.0])
                    s["anyobj"] += out[b, n, 4, j, i]
                    d[b, n, 4, j, i] = region.noobject_scale * (0 - out[b, n, 4, j, i])
                    if best > region.thresh:
                        d[b, n, 4, j, i] = 0
                    if seen < 12800:
                        prior = ((i + .5) / W, (j + .5) / H, bias[n, 0] / W, bias[n, 1] / H)
                        box_delta(prior, b, n, j, i, .01)
        for tb in boxes:
            i, j = int(tb[0] * W), int(tb[1] * H)
            best, best_n = 0.0, 0
            for n in range(A):
                p = pbox(b, n, j, i)
                shape = (bias[n, 0] / W, bias[n, 1] / H) if region.bias_match else (p[2], p[3])
                v = _iou((0, 0) + shape, (0, 0, tb[2], tb[3]))
                if v > best:
                    best, best_n = v, n
            n = best_n
            iou = box_delta(tb, b, n, j, i, region.coord_scale * (2 - tb[2] * tb[3]))
            s["recall"] += iou > .5
            s["iou"] += iou
            o = out[b, n, 4, j, i]
            s["obj"] += o
            d[b, n, 4, j, i] = region.object_scale * ((iou if region.rescore else 1) - o)
            class_delta(b, n, j, i, int(tb[4]))
            s["count"] += 1
            s["class_count"] += 1
    return d, s
