"""What `classifier predict` shows, shared by both engines (torch: `darkpy.classify.predict`;
numpy: `darkpy.classify.numpy_predict`), torch-free: the network input an image becomes, the
ranking and the printed lines, so that the two engines print the same thing.

Darknet letterboxes the image into the network's input (`letterbox_image`: aspect kept, grey
borders), ranks the scores with `top_k` (ties keep the lower index first) and prints each as
`%5.2f%%: name`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from darkpy.classify import image as I

PREPROCESS = ("letterbox", "center", "resize")


def classifier_input(im: np.ndarray, w: int, h: int, how: str = "letterbox", channels: int = 3) -> np.ndarray:
    """(H, W, 3) image -> the (3, h, w) network input: `letterbox` (Darknet's predict),
    `center` (`resize_min` + centred crop, Darknet's valid) or `resize` (stretched)."""
    if how == "letterbox":
        out = I.letterbox_hwc(im, w, h)
    elif how == "center":
        out = I.resize_center_crop(im, w, h)
    elif how == "resize":
        out = I.resize_hwc(im, w, h)
    else:
        raise ValueError(f"unknown preprocessing {how!r} (one of {', '.join(PREPROCESS)})")
    return I.to_chw(out, channels)


def rank_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k largest entries along the last axis, ties in index order (Darknet's
    top_k), for numpy scores: a stable sort of the negated scores."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :k]


@dataclass
class Prediction:
    path: str
    indexes: list[int]
    probs: list[float]
    walk: tuple[str, int, float] | None = None   # (walk name, node, its absolute probability)

    def lines(self, names: list[str]) -> list[str]:
        out = [f"{100 * p:5.2f}%: {names[i] if i < len(names) else i}"
               for i, p in zip(self.indexes, self.probs)]
        if self.walk is not None:
            how, node, p = self.walk
            out.append(f"{how} walk: {100 * p:5.2f}%: {names[node] if node < len(names) else node}")
        return out


def predict_paths(paths, to_input, top_k, walk_at=None, walk: str | None = None) -> list[Prediction]:
    """`classifier predict`'s loop, for either engine: each image read as Darknet does, made the
    network's input by `to_input(rgb)`, ranked by `top_k(x)` -> [(indexes, probs)], and with
    `walk`, also the node `walk_at(x)` -> [(node, prob)] stops at."""
    out = []
    for path in paths:
        x = to_input(I.load_rgb(path))
        (idx, probs), = top_k(x)
        walked = None
        if walk is not None:
            (node, p), = walk_at(x)
            walked = (walk, node, p)
        out.append(Prediction(str(path), idx, probs, walked))
    return out


__all__ = ("PREPROCESS", "Prediction", "classifier_input", "predict_paths", "rank_top_k")
