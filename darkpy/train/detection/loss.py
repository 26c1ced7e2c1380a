"""Darknet's region loss (YOLOv2 / YOLO9000), reproduced exactly and vectorised.

`RegionLoss(region_layer)(raw_input, truth, seen)` computes what Darknet's training forward of a
`[region]` layer computes (pjreddie's `forward_region_layer`): the per-entry `delta` (Darknet's
`l.delta`, the NEGATIVE gradient of its loss with respect to the layer INPUT), the cost
(`|delta|^2`) and the statistics Darknet prints per batch. `loss` is a surrogate whose gradient
with respect to `raw_input` is exactly `-delta` (so `loss.backward()` feeds Darknet's numbers
into autograd); its value is not the cost, report `cost` instead.

Darknet's rules, for each image (no loops over cells or anchors here; truths are handled all
at once with "the later truth wins" resolved explicitly):

- every anchor of every cell: objectness pushed to 0 with `noobject_scale`, unless its predicted
  box overlaps some truth with IoU > `thresh`;
- while `seen < 12800`: every anchor's box is pulled (scale .01) toward its anchor shape at the
  cell centre;
- each truth (in order; the list ends at the first slot with x == 0): the cell holding its
  centre, the anchor whose shape (`bias_match`) or predicted box (otherwise) best matches its
  shape; there the box is pulled to the truth with scale `coord_scale * (2 - w*h)`, objectness
  to 1 (or to the IoU with `rescore`) with `object_scale`, and the classes get
  `delta_region_class`: one-hot target (softmax), the same but keeping earlier truths' classes
  at that anchor (logistic classes), or with a WordTree every ancestor's group gets a one-hot
  target at the ancestor (hierarchical softmax);
- YOLO9000 classification-only labels (tree only; x = y > 100000, as Darknet's loader marks
  ImageNet images): the first such label of an image replaces everything above for that image:
  objectness is pushed to 0 everywhere except at the anchor/cell that gives the label the
  highest `objectness * P(label)` (the product of conditional probabilities along the tree),
  where only the hierarchical class delta is applied.

Where Darknet would read out of bounds, we do something safe instead: a truth centre at x or
y == 1 uses the last cell, classification-only labels without a tree are ignored, and class ids
outside the classes (or the `map=` table) raise ValueError.

The returned `delta` follows Darknet (no logistic derivative for x, y, objectness). Darknet's
GPU backward multiplies those three by sigma'(.) before passing the gradient on; pass
`logistic_gradient=True` to get that gradient from `loss` instead (the `delta` is unchanged).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from darkpy.boxes import iou_cwh
from darkpy.wordtree.hierarchy import path_probability

CLASS_ONLY = 100000.0  # Darknet tests truth.x > 100000 && truth.y > 100000
WARMUP_IMAGES = 12800


@dataclass
class RegionLossResult:
    loss: torch.Tensor    # surrogate scalar: d(loss)/d(raw_input) == -delta (see module doc)
    cost: torch.Tensor    # Darknet's cost: sum of squared delta (0-dim tensor)
    delta: torch.Tensor   # Darknet's l.delta, shaped like raw_input
    stats: torch.Tensor   # (7,) sums: iou, class, obj, anyobj, recall, count, class_count
    anchors_total: int    # w*h*num*batch, Darknet's "No Obj" divisor

    def _sums(self) -> list[float]:
        return [float(v) for v in self.stats.detach().cpu().tolist()]

    @property
    def count(self) -> int:
        return int(self._sums()[5])

    def summary(self) -> dict[str, float]:
        """Darknet's per-batch line as numbers (NaN where Darknet divides by a zero count)."""
        iou, cat, obj, anyobj, recall, count, class_count = self._sums()

        def div(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {"avg_iou": div(iou, count), "class": div(cat, class_count), "obj": div(obj, count),
                "no_obj": div(anyobj, self.anchors_total), "avg_recall": div(recall, count),
                "count": int(count)}

    def summary_tensors(self) -> dict[str, torch.Tensor]:
        """`summary()` as 0-dim float64 tensors on the loss's device (no copy to the host: the
        training engine reads them once per step, with its all-reduce)."""
        iou, cat, obj, anyobj, recall, count, class_count = self.stats.detach().to(torch.float64).unbind()
        nan = torch.full((), float("nan"), dtype=torch.float64, device=self.stats.device)

        def div(a: torch.Tensor, b) -> torch.Tensor:
            return torch.where(b != 0, a / b, nan) if isinstance(b, torch.Tensor) else (a / b if b else nan)

        return {"avg_iou": div(iou, count), "class": div(cat, class_count), "obj": div(obj, count),
                "no_obj": div(anyobj, self.anchors_total), "avg_recall": div(recall, count), "count": count}

    def format(self) -> str:
        s = self.summary()
        return (f"Region Avg IOU: {s['avg_iou']:f}, Class: {s['class']:f}, Obj: {s['obj']:f}, "
                f"No Obj: {s['no_obj']:f}, Avg Recall: {s['avg_recall']:f},  count: {s['count']}")


def _merge_max(dest: torch.Tensor, rows: torch.Tensor, src: torch.Tensor) -> None:
    """dest[rows[i]] = max(dest[rows[i]], src[i]) elementwise (order-free, so deterministic)."""
    if src.numel():
        dest.scatter_reduce_(0, rows.view(-1, 1).expand_as(src), src, reduce="amax")


class RegionLoss(nn.Module):
    """Darknet's region-layer loss; build it from a `darkpy.net.layers.region.Region` layer."""

    def __init__(self, region, logistic_gradient: bool = False):
        super().__init__()
        self.num, self.classes, self.coords = int(region.num), int(region.classes), int(region.coords)
        if self.coords != 4:
            raise NotImplementedError(f"region loss supports coords=4 only (got {self.coords})")
        self.region = region  # shares the activation (softmax / tree softmax) with the layer
        self.tree = region.tree
        self.softmax = bool(region.softmax)
        self.background = bool(region.background)
        for key in ("thresh", "coord_scale", "object_scale", "noobject_scale", "class_scale"):
            setattr(self, key, float(getattr(region, key)))
        self.rescore = bool(region.rescore)
        self.bias_match = bool(region.bias_match)
        self.logistic_gradient = bool(logistic_gradient)
        self.register_buffer("biases", region.biases.detach().clone().float().reshape(self.num, 2),
                             persistent=False)
        class_map = getattr(region, "class_map", None)
        self.register_buffer("class_map", torch.as_tensor(class_map, dtype=torch.long)
                             if class_map else torch.zeros(0, dtype=torch.long), persistent=False)
        if self.tree is not None:
            ancestors = torch.as_tensor(self.tree.ancestors_mask())
            self.register_buffer("tree_ancestors", ancestors, persistent=False)
            group = torch.as_tensor(self.tree.group, dtype=torch.long)
            self.register_buffer("tree_group_onehot",
                                 nn.functional.one_hot(group, self.tree.groups).bool(), persistent=False)

    def check_classes(self, truth: torch.Tensor) -> None:
        """ValueError naming the first truth whose class id is outside the classes (or the `map=`
        table). Checked on the host: the loader's truth is a CPU tensor, so the training step
        never waits for the GPU here (a truth already on a GPU is copied back for the check)."""
        t = truth.detach().to("cpu", torch.float32).reshape(truth.shape[0], -1, 5)
        valid = torch.cumprod((t[..., 0] != 0).to(torch.int32), dim=1).bool()
        class_only = valid & (t[..., 0] > CLASS_ONLY) & (t[..., 1] > CLASS_ONLY)
        truth_class = t[..., 4].to(torch.long)                                     # C cast truncates
        limit = self.class_map.numel() if self.class_map.numel() else self.classes
        # `map=` applies to box labels only: classification-only labels carry tree indexes (Darknet)
        limits = torch.where(class_only & (self.tree is not None), self.classes, limit)
        bad = (valid & ((truth_class < 0) | (truth_class >= limits))).nonzero()
        if len(bad):
            b0, t0 = (int(v) for v in bad[0])
            raise ValueError(f"truth class {int(truth_class[b0, t0])} of image {b0}, slot {t0} is outside "
                             f"0..{int(limits[b0, t0]) - 1}")

    # ------------------------------------------------------------------------------------
    def forward(self, raw_input: torch.Tensor, truth: torch.Tensor, seen: int) -> RegionLossResult:
        """`raw_input`: the region layer's input (N, num*(5+classes), H, W). `truth`: (N, T, 5)
        rows `x y w h class` (normalised; the list ends at the first x == 0). `seen`: Darknet's
        `*net->seen` at this forward, i.e. images seen INCLUDING this mini-batch (Darknet adds the
        mini-batch before its forward); it only matters through `seen < 12800`."""
        self.check_classes(truth)   # on the CPU copy the loader made: no wait for the GPU
        p = self._activate(raw_input)
        t = self._read_truths(truth, p)
        stats = torch.zeros(7, dtype=torch.float64, device=p.dev)
        d_obj, d_box = self._no_object_pass(p, t, seen, stats)
        m = self._match_truths(p, t)
        c_written, c_target, cat_sum = self._class_deltas(p, t, m)
        count = t.box_truth.sum()
        stats[0] = (m.iou * t.box_truth).sum(dtype=torch.float64)
        stats[2] = (m.s_obj * t.box_truth).sum(dtype=torch.float64)
        stats[4] = ((m.iou > 0.5) & t.box_truth).sum()
        stats[5] = count
        stats[6] = count + t.image_class_only.sum()
        if self.tree is not None:
            cat_sum, d_obj = self._class_only_labels(p, t, c_written, c_target, cat_sum, d_obj)
        stats[1] = cat_sum
        return self._assemble(raw_input, p, m, d_box, d_obj, c_written, c_target, stats)

    # ---- activation: the layer's outputs and the boxes they predict ---------------------------
    def _activate(self, x: torch.Tensor) -> "_Prediction":
        N, C, H, W = x.shape
        A, K = self.num, self.classes
        E = self.coords + 1 + K
        if C != A * E:
            raise ValueError(f"region input has {C} channels, expected {A}*{E}")
        dev, dt = x.device, torch.float32
        out = self.region.activate(x.detach().to(dt)).reshape(N, A, E, H, W)
        bw_anchor = self.biases[:, 0].to(dev)  # (A,)
        bh_anchor = self.biases[:, 1].to(dev)
        ii = torch.arange(W, device=dev, dtype=dt).view(1, 1, 1, W)
        jj = torch.arange(H, device=dev, dtype=dt).view(1, 1, H, 1)
        px, py, tw, th, obj = out[:, :, 0], out[:, :, 1], out[:, :, 2], out[:, :, 3], out[:, :, 4]
        # predicted boxes, Darknet's get_region_box (x, y already logistic)
        return _Prediction(
            N=N, A=A, K=K, H=H, W=W, C=C, dev=dev, dt=dt, out=out, px=px, py=py, tw=tw, th=th, obj=obj,
            cls=out[:, :, 5:],                                  # (N, A, K, H, W)
            pbx=(ii + px) / W, pby=(jj + py) / H,
            pbw=torch.exp(tw) * bw_anchor.view(1, A, 1, 1) / W,
            pbh=torch.exp(th) * bh_anchor.view(1, A, 1, 1) / H,
            bw_anchor=bw_anchor, bh_anchor=bh_anchor, ii=ii, jj=jj)

    # ---- the truth list: which rows count, which are classification-only -----------------------
    def _read_truths(self, truth: torch.Tensor, p: "_Prediction") -> "_Truths":
        N, K, dev = p.N, p.K, p.dev
        truth = truth.to(device=dev, dtype=p.dt).reshape(N, -1, 5)
        tx_, ty_, tw_, th_ = truth[..., 0], truth[..., 1], truth[..., 2], truth[..., 3]
        valid = torch.cumprod((tx_ != 0).to(torch.int32), dim=1).bool()           # (N, T)
        class_only = valid & (tx_ > CLASS_ONLY) & (ty_ > CLASS_ONLY)
        if self.tree is not None:
            image_class_only = class_only.any(dim=1)                               # (N,)
        else:
            image_class_only = torch.zeros(N, dtype=torch.bool, device=dev)
        box_truth = valid & ~class_only & ~image_class_only.view(N, 1)              # (N, T)
        truth_class = truth[..., 4].to(torch.long)                                 # C cast truncates
        return _Truths(T=truth.shape[1], tx=tx_, ty=ty_, tw=tw_, th=th_, valid=valid, class_only=class_only,
                       image_class_only=image_class_only, box_truth=box_truth, truth_class=truth_class)

    # ---- no-object pass: every anchor's objectness, and the warm-up toward the priors ----------
    def _no_object_pass(self, p: "_Prediction", t: "_Truths", seen: int,
                        stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        N, A, H, W, T = p.N, p.A, p.H, p.W, t.T
        obj, ii, jj = p.obj, p.ii, p.jj
        # objectness for every anchor: best IoU with any truth of the image
        vb = lambda v: v.view(N, 1, 1, 1, T)  # noqa: E731
        ious = iou_cwh(p.pbx.unsqueeze(-1), p.pby.unsqueeze(-1), p.pbw.unsqueeze(-1), p.pbh.unsqueeze(-1),
                       vb(t.tx), vb(t.ty), vb(t.tw), vb(t.th))                     # (N, A, H, W, T)
        ious = torch.where(vb(t.valid), ious, torch.zeros_like(ious))
        best_iou = ious.amax(dim=-1) if T else torch.zeros_like(obj)
        if self.background:
            d_obj = self.noobject_scale * (1 - obj)
        else:
            d_obj = self.noobject_scale * (0 - obj)
        d_obj = torch.where(best_iou > self.thresh, torch.zeros_like(d_obj), d_obj)
        img_co = t.image_class_only.view(N, 1, 1, 1)
        d_obj = torch.where(img_co, self.noobject_scale * (0 - obj), d_obj)

        # box deltas: warm-up toward the anchor priors
        d_box = torch.zeros((N, A, 4, H, W), dtype=p.dt, device=p.dev)
        if seen < WARMUP_IMAGES:
            bw_anchor, bh_anchor = p.bw_anchor, p.bh_anchor
            ptx = ((ii + 0.5) / W) * W - ii
            pty = ((jj + 0.5) / H) * H - jj
            ptw = torch.log((bw_anchor / W) * W / bw_anchor).view(1, A, 1, 1)
            pth = torch.log((bh_anchor / H) * H / bh_anchor).view(1, A, 1, 1)
            warm = 0.01 * torch.stack([ptx - p.px, pty - p.py, ptw - p.tw, pth - p.th], dim=2)
            d_box = torch.where(img_co.unsqueeze(2), d_box, warm)
        keep_obj = (~img_co).expand_as(obj)
        stats[3] = (obj * keep_obj).sum(dtype=torch.float64)
        return d_obj, d_box

    # ---- truth matching: each truth's cell and anchor, its box and objectness deltas -----------
    def _match_truths(self, p: "_Prediction", t: "_Truths") -> "_Match":
        N, A, H, W, T, dev, dt = p.N, p.A, p.H, p.W, t.T, p.dev, p.dt
        box_truth, tx_, ty_, tw_, th_ = t.box_truth, t.tx, t.ty, t.tw, t.th
        ci = (tx_ * W).to(torch.long).clamp(0, W - 1)                               # (N, T)
        cj = (ty_ * H).to(torch.long).clamp(0, H - 1)
        ci = torch.where(box_truth, ci, torch.zeros_like(ci))
        cj = torch.where(box_truth, cj, torch.zeros_like(cj))
        bidx = torch.arange(N, device=dev).view(N, 1).expand(N, T)
        # anchor choice: IoU of shapes centred at the origin
        if self.bias_match:
            sw = (p.bw_anchor / W).view(1, 1, A).expand(N, T, A)
            sh = (p.bh_anchor / H).view(1, 1, A).expand(N, T, A)
        else:
            sw = p.pbw.permute(0, 2, 3, 1)[bidx, cj, ci]                            # (N, T, A)
            sh = p.pbh.permute(0, 2, 3, 1)[bidx, cj, ci]
        zero = torch.zeros((), device=dev, dtype=dt)
        shape_iou = iou_cwh(zero, zero, sw, sh, zero, zero, tw_.unsqueeze(-1), th_.unsqueeze(-1))
        best_n = shape_iou.argmax(dim=-1) if A > 1 else torch.zeros((N, T), dtype=torch.long, device=dev)
        slot = ((bidx * A + best_n) * H + cj) * W + ci                              # flat (N, A, H, W)

        def at(plane):  # gather a (N, A, H, W) plane at each truth's slot
            return plane.reshape(-1)[slot]

        s_px, s_py, s_tw, s_th, s_obj = at(p.px), at(p.py), at(p.tw), at(p.th), at(p.obj)
        bw_n, bh_n = p.bw_anchor[best_n], p.bh_anchor[best_n]
        iou = iou_cwh(at(p.pbx.expand(N, A, H, W)), at(p.pby.expand(N, A, H, W)), at(p.pbw), at(p.pbh),
                      tx_, ty_, tw_, th_)
        scale = self.coord_scale * (2 - tw_ * th_)
        cif, cjf = ci.to(dt), cj.to(dt)
        safe_w = torch.where(box_truth, tw_, torch.ones_like(tw_))
        safe_h = torch.where(box_truth, th_, torch.ones_like(th_))
        t_box = torch.stack([scale * ((tx_ * W - cif) - s_px), scale * ((ty_ * H - cjf) - s_py),
                             scale * (torch.log(safe_w * W / bw_n) - s_tw),
                             scale * (torch.log(safe_h * H / bh_n) - s_th)], dim=-1)  # (N, T, 4)
        if self.background:
            t_obj = self.object_scale * (0 - s_obj)
        elif self.rescore:
            t_obj = self.object_scale * (iou - s_obj)
        else:
            t_obj = self.object_scale * (1 - s_obj)

        # "later truth wins": a truth writes only if no later truth of the image hits its slot
        same = (slot.unsqueeze(2) == slot.unsqueeze(1)) & box_truth.unsqueeze(1) & box_truth.unsqueeze(2)
        later = torch.triu(torch.ones(T, T, dtype=torch.bool, device=dev), diagonal=1)   # [t, t'] t' > t
        earlier = later.transpose(0, 1)
        same_later = same & later
        is_last = box_truth & ~same_later.any(dim=2)
        is_first = box_truth & ~(same & earlier).any(dim=2)

        M = N * A * H * W
        flat_slot = slot.reshape(-1)
        w_last = is_last.reshape(-1).to(dt)
        box_new = torch.zeros((M, 5), dtype=dt, device=dev)
        vals = torch.cat([t_box, t_obj.unsqueeze(-1)], dim=-1).reshape(-1, 5)
        vals = torch.where(is_last.reshape(-1, 1), vals, torch.zeros_like(vals))
        box_new.index_add_(0, flat_slot, vals)
        box_hit = torch.zeros(M, dtype=dt, device=dev).index_add_(0, flat_slot, w_last) > 0
        return _Match(flat_slot=flat_slot, iou=iou, s_obj=s_obj, same_later=same_later, is_last=is_last,
                      is_first=is_first, box_new=box_new, box_hit=box_hit)

    # ---- class deltas: per truth a written-mask and a target, merged by max --------------------
    def _class_deltas(self, p: "_Prediction", t: "_Truths",
                      m: "_Match") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        N, A, H, W, K, T, dev, dt = p.N, p.A, p.H, p.W, p.K, t.T, p.dev, p.dt
        box_truth, is_last, flat_slot = t.box_truth, m.is_last, m.flat_slot
        M = N * A * H * W
        cls_flat = p.cls_flat()                                                     # (M, K)
        c_written = torch.zeros((M, K), dtype=dt, device=dev)
        c_target = torch.zeros((M, K), dtype=dt, device=dev)
        cat_sum = torch.zeros((), dtype=torch.float64, device=dev)
        klass = t.truth_class
        if self.class_map.numel():
            klass = self.class_map.to(dev)[klass.clamp(0, self.class_map.numel() - 1)]
        klass = torch.where(box_truth, klass, torch.zeros_like(klass)).clamp(0, max(K - 1, 0))
        onehot = nn.functional.one_hot(klass, K).to(dt) if K else torch.zeros((N, T, 0), device=dev)
        s_cls = cls_flat[flat_slot].reshape(N, T, K)

        if self.tree is not None:
            path = self.tree_ancestors.to(dev)[klass]                                  # (N, T, K) bool
            gon = self.tree_group_onehot.to(dev)                                      # (K, G)
            touched = (path.to(dt) @ gon.to(dt)) > 0                                   # (N, T, G)
            touched = touched & box_truth.unsqueeze(-1)
            later_touch = (m.same_later.to(dt) @ touched.to(dt)) > 0                  # (N, T, G)
            writer = touched & ~later_touch
            wmask = (writer.to(dt) @ gon.to(dt).T) > 0                                 # (N, T, K)
            target = path.to(dt)
            pred = path_probability(s_cls, path)
            cat_sum = cat_sum + (pred * box_truth).sum(dtype=torch.float64)
        elif self.softmax:
            wmask = is_last.unsqueeze(-1).expand(N, T, K)
            target = onehot
            cat_sum = cat_sum + ((s_cls * onehot).sum(-1) * box_truth).sum(dtype=torch.float64)
        else:
            # logistic classes: the first truth at an anchor writes every class, later ones only
            # add their own class (Darknet checks for an existing class-0 delta)
            first = m.is_first if self.class_scale != 0 else box_truth
            wmask = box_truth.unsqueeze(-1).expand(N, T, K)
            target = onehot
            cat_sum = cat_sum + ((s_cls * onehot).sum(-1) * first).sum(dtype=torch.float64)
        wm = (wmask & box_truth.unsqueeze(-1)).reshape(-1, K).to(dt)
        _merge_max(c_written, flat_slot, wm)
        _merge_max(c_target, flat_slot, target.reshape(-1, K) * wm)
        return c_written, c_target, cat_sum

    # ---- classification-only labels (tree): the best anchor of the image takes the class -------
    def _class_only_labels(self, p: "_Prediction", t: "_Truths", c_written: torch.Tensor,
                           c_target: torch.Tensor, cat_sum: torch.Tensor,
                           d_obj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        N, A, H, W, K, dev, dt = p.N, p.A, p.H, p.W, p.K, p.dev, p.dt
        class_only, image_class_only = t.class_only, t.image_class_only
        first_co = class_only & ~(torch.cumsum(class_only.to(torch.int32), dim=1) > 1)  # first per image
        co_class = (t.truth_class * first_co).sum(dim=1).clamp(0, K - 1)           # (N,)
        co_path = self.tree_ancestors.to(dev)[co_class]                            # (N, K)
        cls_img = p.cls.permute(0, 1, 3, 4, 2).reshape(N, A * H * W, K)
        prob = path_probability(cls_img, co_path.view(N, 1, K))
        prob = p.obj.reshape(N, A * H * W) * prob
        maxi = prob.argmax(dim=1)                                                  # first max
        maxi = torch.where(prob.gather(1, maxi.view(N, 1)).view(N) > 0, maxi, torch.zeros_like(maxi))
        co_slot = torch.arange(N, device=dev) * (A * H * W) + maxi                 # (N,)
        gon = self.tree_group_onehot.to(dev).to(dt)                                 # (K, G)
        co_wm = (((co_path.to(dt) @ gon) > 0).to(dt) @ gon.T) > 0                 # (N, K)
        co_wm = (co_wm & image_class_only.view(N, 1)).to(dt)
        _merge_max(c_written, co_slot, co_wm)
        _merge_max(c_target, co_slot, co_path.to(dt) * co_wm)
        co_pred = path_probability(p.cls_flat()[co_slot], co_path)
        cat_sum = cat_sum + (co_pred * image_class_only).sum(dtype=torch.float64)
        # objectness delta is zero at the chosen anchor
        obj_zero = torch.zeros(N * A * H * W, dtype=torch.bool, device=dev)
        obj_zero[co_slot] = image_class_only
        d_obj = torch.where(obj_zero.view(N, A, H, W), torch.zeros_like(d_obj), d_obj)
        return cat_sum, d_obj

    # ---- assemble: Darknet's delta, the cost and the autograd surrogate ------------------------
    def _assemble(self, raw_input: torch.Tensor, p: "_Prediction", m: "_Match", d_box: torch.Tensor,
                  d_obj: torch.Tensor, c_written: torch.Tensor, c_target: torch.Tensor,
                  stats: torch.Tensor) -> RegionLossResult:
        N, A, H, W, K, C, out = p.N, p.A, p.H, p.W, p.K, p.C, p.out
        hit = m.box_hit.view(N, A, H, W)
        bn = m.box_new.view(N, A, H, W, 5)
        d_box = torch.where(hit.unsqueeze(2), bn[..., :4].permute(0, 1, 4, 2, 3), d_box)
        d_obj = torch.where(hit, bn[..., 4], d_obj)
        d_cls = self.class_scale * (c_target - p.cls_flat())
        d_cls = torch.where(c_written > 0, d_cls, torch.zeros_like(d_cls))
        d_cls = d_cls.view(N, A, H, W, K).permute(0, 1, 4, 2, 3)
        delta = torch.cat([d_box, d_obj.unsqueeze(2), d_cls], dim=2).reshape(N, C, H, W)

        grad_delta = delta
        if self.logistic_gradient:
            g = torch.ones_like(out)
            logistic = [0, 1] if self.background else [0, 1, 4]
            sig = out[:, :, logistic]
            g[:, :, logistic] = sig * (1 - sig)
            grad_delta = delta * g.reshape(N, C, H, W)
        loss = -(grad_delta.detach().to(raw_input.dtype) * raw_input).sum()
        cost = delta.double().pow(2).sum().float()
        return RegionLossResult(loss=loss, cost=cost, delta=delta, stats=stats, anchors_total=N * A * H * W)


@dataclass
class _Prediction:
    """The activated layer output and the boxes it predicts (Darknet's get_region_box)."""

    N: int
    A: int
    K: int
    H: int
    W: int
    C: int
    dev: torch.device
    dt: torch.dtype
    out: torch.Tensor  # (N, A, 5+K, H, W)
    px: torch.Tensor  # (N, A, H, W) each
    py: torch.Tensor
    tw: torch.Tensor
    th: torch.Tensor
    obj: torch.Tensor
    cls: torch.Tensor  # (N, A, K, H, W)
    pbx: torch.Tensor
    pby: torch.Tensor
    pbw: torch.Tensor
    pbh: torch.Tensor
    bw_anchor: torch.Tensor  # (A,)
    bh_anchor: torch.Tensor
    ii: torch.Tensor  # cell column and row indexes, broadcastable to (N, A, H, W)
    jj: torch.Tensor

    def cls_flat(self) -> torch.Tensor:
        """Class outputs one row per anchor slot: (N*A*H*W, K)."""
        return self.cls.permute(0, 1, 3, 4, 2).reshape(self.N * self.A * self.H * self.W, self.K)


@dataclass
class _Truths:
    """The truth rows of each image, (N, T) each, and which of them count."""

    T: int
    tx: torch.Tensor
    ty: torch.Tensor
    tw: torch.Tensor
    th: torch.Tensor
    valid: torch.Tensor  # before the first x == 0
    class_only: torch.Tensor  # YOLO9000 classification-only labels
    image_class_only: torch.Tensor  # (N,) images holding one (tree networks only)
    box_truth: torch.Tensor  # the truths whose boxes are trained
    truth_class: torch.Tensor


@dataclass
class _Match:
    """Each truth's anchor slot and the deltas written there (the later truth wins)."""

    flat_slot: torch.Tensor  # (N*T,) index into (N, A, H, W)
    iou: torch.Tensor  # (N, T) IoU of the prediction at the slot with its truth
    s_obj: torch.Tensor  # (N, T) objectness at the slot
    same_later: torch.Tensor  # (N, T, T) a later truth of the image shares the slot
    is_last: torch.Tensor
    is_first: torch.Tensor
    box_new: torch.Tensor  # (N*A*H*W, 5) box and objectness deltas written by truths
    box_hit: torch.Tensor  # (N*A*H*W,) slots a truth wrote
