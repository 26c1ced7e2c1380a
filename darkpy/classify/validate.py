"""`classifier valid`: top-1 / top-k accuracy over the `valid=` images, as Darknet's
`validate_classifier_*` functions compute it, with a per-class summary.

Modes (Darknet's names in brackets):
- `center` [valid]: `resize_min` to the network width, centred crop (the default).
- `resize` [validcrop]: the image stretched to the network size.
- `ten` [valid10]: the image stretched to (w+32) x (h+32); five w x h windows at offsets
  (-32, -32), (32, -32), (0, 0), (-32, 32), (32, 32) -- Darknet's offsets as written, so most
  reach outside the image, where `crop_image` repeats the edge -- and the same five of the
  mirrored image; the ten outputs summed.
- `multi` [validmulti]: the whole image at every scale of `scales` (`resize_min`, the network
  resized to fit) plus its mirror, outputs summed. (Darknet applies the WordTree product to the
  unmirrored pass only; darkpy applies it to both.)

A WordTree softmax is ranked by absolute leaf probabilities (`hierarchy_predictions`).
Batches are built on a thread pool; a progress bar shows the running accuracies. The network is
a torch `Network` or, for a few images, the torch-free `NumpyNetwork` (`classifier=True`): both
give numpy scores (`scorer`), ranked by `rank_top_k`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from darkpy.classify import image as I
from darkpy.classify import numpy_predict
from darkpy.classify.labels import LabelledList
from darkpy.classify.prediction import rank_top_k
from darkpy.errors import CfgError, UsageError
from darkpy.net.numpy_forward import NumpyNetwork

MODES = ("center", "resize", "ten", "multi")
MULTI_SCALES = (224, 288, 320, 352, 384)


def ten_crops(im: np.ndarray, w: int, h: int, shift: int = 32, channels: int = 3) -> np.ndarray:
    big = I.resize_hwc(im, w + shift, h + shift)
    offsets = [(-shift, -shift), (shift, -shift), (0, 0), (-shift, shift), (shift, shift)]
    crops = [I.crop_image(big, dx, dy, w, h) for dx, dy in offsets]
    flipped = I.flip_image(big)
    crops += [I.crop_image(flipped, dx, dy, w, h) for dx, dy in offsets]
    return np.stack([I.to_chw(c, channels) for c in crops])


@dataclass
class ValidResult:
    k: int
    classes: int
    count: int = 0
    top1: int = 0
    topk: int = 0
    confusion: np.ndarray = field(default=None)        # (classes, classes): truth row, top-1 column
    per_class_topk: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.confusion is None:
            self.confusion = np.zeros((self.classes, self.classes), dtype=np.int64)
            self.per_class_topk = np.zeros(self.classes, dtype=np.int64)

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.count if self.count else 0.0

    @property
    def topk_accuracy(self) -> float:
        return self.topk / self.count if self.count else 0.0

    def add(self, truth: np.ndarray, ranked: np.ndarray) -> None:
        hit1 = ranked[:, 0] == truth
        hitk = (ranked == truth[:, None]).any(1)
        self.count += len(truth)
        self.top1 += int(hit1.sum())
        self.topk += int(hitk.sum())
        pred = ranked[:, 0]
        ok = pred < self.classes
        np.add.at(self.confusion, (truth[ok], pred[ok]), 1)
        np.add.at(self.per_class_topk, truth[hitk], 1)

    def per_class(self) -> list[dict]:
        """Per class: images, top-1 and top-k accuracy, and the class most often predicted instead."""
        rows = []
        for c in range(self.classes):
            n = int(self.confusion[c].sum())
            if n == 0:
                continue
            wrong = self.confusion[c].copy()
            wrong[c] = 0
            j = int(wrong.argmax())
            rows.append({"class": c, "images": n, "top1": self.confusion[c, c] / n,
                         "topk": self.per_class_topk[c] / n,
                         "confused_with": j if wrong[j] else None, "confused_count": int(wrong[j])})
        return rows


def validate(net, items: LabelledList, top: int, *, mode: str = "center", scales=MULTI_SCALES,
             batch: int = 16, threads: int = 4, progress: bool = True,
             limit: int | None = None) -> ValidResult:
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    classes = len(items.labels)
    if top > classes:
        raise UsageError(f"top={top} is larger than the {classes} classes")
    scores_of = scorer(net)
    w, h, ch = net.net.width, net.net.height, net.net.channels
    net.net.check_image_channels(getattr(net, "cfg_path", None), detector=False)
    n = len(items) if limit is None else min(limit, len(items))
    result = ValidResult(top, classes)

    def load(i: int):
        im = I.load_rgb(items.paths[i])
        if mode == "center":
            return I.to_chw(I.resize_center_crop(im, w, h), ch)[None]
        if mode == "resize":
            return I.to_chw(I.resize_hwc(im, w, h), ch)[None]
        if mode == "ten":
            return ten_crops(im, w, h, channels=ch)
        return im

    from tqdm import tqdm

    # disable=None: tqdm draws only on a terminal (no bar lines in logs and pipes)
    bar = tqdm(total=n, desc="valid", unit="img", disable=None if progress else True, dynamic_ncols=True,
               leave=True)
    step = batch if mode in ("center", "resize") else 1
    try:
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            chunks = [list(range(s, min(s + step, n))) for s in range(0, n, step)]
            pending = [pool.map(load, c) for c in chunks[:2]]
            for ci, chunk in enumerate(chunks):
                loaded = list(pending[ci])
                if ci + 2 < len(chunks):
                    pending.append(pool.map(load, chunks[ci + 2]))
                pending[ci] = None
                if mode == "multi":
                    scores = _multi_scores(net, scores_of, loaded[0], scales, w, h)[None]
                elif mode == "ten":
                    scores = scores_of(loaded[0]).sum(0, keepdims=True)
                else:
                    scores = scores_of(np.concatenate(loaded))
                ranked = rank_top_k(scores[:, :classes], top)
                result.add(items.classes[chunk], ranked)
                bar.update(len(chunk))
                bar.set_postfix_str(f"top1 {result.top1_accuracy:.4f} top{top} {result.topk_accuracy:.4f}")
    finally:
        bar.close()
        if mode == "multi" and (net.net.width, net.net.height) != (w, h):
            net.resize(w, h)
    return result


def scorer(net):
    """numpy input -> numpy scores (`class_scores`) for either engine; torch only for a torch network."""
    if isinstance(net, NumpyNetwork):
        return numpy_predict.scorer(net)
    from darkpy.classify.predict import scorer as torch_scorer

    return torch_scorer(net)


def _multi_scores(net, scores_of, im: np.ndarray, scales, w0: int, h0: int) -> np.ndarray:
    total = None
    for s in scales:
        r = I.resize_min(im, int(s))
        rh, rw = r.shape[:2]
        try:
            net.resize(rw, rh)
        except CfgError as exc:
            raise UsageError(f"multi-scale validation needs a network that runs at any size: {exc}") from None
        c = net.net.channels
        p = scores_of(np.stack([I.to_chw(r, c), I.to_chw(I.flip_image(r), c)])).sum(0)
        total = p if total is None else total + p
    net.resize(w0, h0)
    return total
