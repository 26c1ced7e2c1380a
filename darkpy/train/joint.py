"""YOLO9000 joint training: detection images and classification-only images in one run.

A classification-only image has no boxes, only a class: its truth is the single row
`(1e6, 1e6, w, h, class)` -- Darknet's marker (its region layer treats a truth whose x and y are
both above 100000 as "class only") -- and the region loss then back-propagates nothing but the
hierarchical class loss, at the one anchor/cell that predicts that class most confidently
(`darkpy.train.detection.loss`; with a WordTree every ancestor of the class counts as labelled).

Where classification-only images come from:

- a label file line in Darknet's form `class 0 0 w h` (x = y = 0), or with x and y both >= 100000
  (`class 1000000 1000000 w h`, the marker itself); `class` is a tree index, not mapped through
  the cfg's `map=` (`darkpy.formats.labels` reads both forms);
- an image in the training list with NO label file whose path contains exactly one entry of the
  `.data` file's `labels=` list (Darknet's classifier rule, `darkpy.classify.labels`): the class is
  that entry's line, mapped through the `.data` file's `map=` when that map has one entry per
  label. No entry or several entries: the image is reported and not trained on (never guessed);
- every image of an explicit second list, `classify = imagenet.train.list` in the `.data` file
  (classes from the path rule; paths that match 0 or 2+ labels are reported and left out).
  Each training slot is then a detection or a classification image, in a fixed pattern: over any
  run of slots at most `class_ratio` classification images per detection image (`--class-ratio`,
  default 4, the paper's ceiling; capped by the lists' own proportion, so a small classification
  list is not oversampled). Which image fills a slot is drawn from the slot's own random stream
  (seed, batch, slot), so the data does not depend on the number of workers or processes.

A classification-only image is augmented like any other (crop, resize, flip, colours) but its
truth row passes through untouched: no box correction, clipping, shuffling or dropping, and it is
never mixed with boxes (an image whose label file has both keeps only the class-only line; that is
reported).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from darkpy.train.augment import augment_detection
from darkpy.errors import CfgError, DataError, UsageError
from darkpy.formats.datafile import read_map, read_names
from darkpy.formats.labels import MARK, MARK_MIN, label_file, parse_label_text, resolve_entry
from darkpy.train.detection.task import DetectionTask
from darkpy.train.engine import StepReport
from darkpy.train.detection.loader import (MISSING_LABELS, DetectionSource, Request, missing_labels_message,
                                  read_image_list, read_rgb_or_warn)
from darkpy.classify.labels import LabelMatcher

DEFAULT_RATIO = 4.0      # YOLO9000: at most 4 ImageNet images per COCO image
SHOWN = 5


def class_only_row(cls: int, w: float = 1.0, h: float = 1.0) -> np.ndarray:
    """The (1, 5) truth row `x y w h class` of a classification-only image."""
    return np.array([[MARK, MARK, w, h, cls]], np.float32)


def count_class_only(truth: torch.Tensor) -> int:
    """Images of a (N, T, 5) truth batch whose first row is a classification-only marker."""
    t = truth.reshape(truth.shape[0], -1, 5)
    if t.shape[1] == 0:
        return 0
    return int(((t[:, 0, 0] > MARK_MIN - 1) & (t[:, 0, 1] > MARK_MIN - 1)).sum())


def split_label_text(text: str, path, classes: int | None,
                     box_classes: int | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A label file's (boxes `class x y w h`, class-only truth rows `x y w h class`, problems).

    Read by `darkpy.formats.labels.parse_label_text`: classification-only lines (Darknet's
    `class 0 0 w h`, or x, y >= 1e5) have classes below `classes` (tree indexes), boxes below
    `box_classes` (default `classes`: a cfg with `map=` takes the mapped dataset's ids). A line
    that cannot be used is a problem `path:line: ...` and is skipped."""
    labels = parse_label_text(text, path, box_classes if box_classes is not None else classes,
                              class_only_classes=classes)
    marks = np.zeros((len(labels.class_only), 5), np.float32)
    if len(marks):
        marks[:, 0:2] = MARK
        marks[:, 2:4] = labels.class_only[:, 1:3]
        marks[:, 4] = labels.class_only[:, 0]
    return labels.boxes, marks, [str(p) for p in labels.problems]


def augment_joint(img: np.ndarray, boxes: np.ndarray, class_only: np.ndarray, rng: np.random.Generator,
                  w: int, h: int, *, max_boxes: int, **jitter) -> tuple[np.ndarray, np.ndarray]:
    """`augment_detection`, except that an image with class-only rows gets those rows as its
    truth, untouched (the image itself is augmented as usual; its boxes, if any, are ignored)."""
    if len(class_only) == 0:
        return augment_detection(img, boxes, rng, w, h, max_boxes=max_boxes, **jitter)
    image, _ = augment_detection(img, np.zeros((0, 5), np.float32), rng, w, h, max_boxes=max_boxes, **jitter)
    truth = np.zeros((max_boxes, 5), np.float32)
    rows = class_only[:max_boxes]
    truth[: len(rows)] = rows
    return image, truth


# -- the class-from-path rule ---------------------------------------------------------------

@dataclass
class PathClasses:
    """Darknet's classifier rule: the one `labels` entry found in a path, mapped through `mapping`."""

    labels: list[str]
    mapping: list[int] | None = None
    _matcher: object = field(default=None, repr=False, compare=False)

    def matches(self, path: str) -> list[int]:
        if self._matcher is None:
            self._matcher = LabelMatcher(self.labels)
        return self._matcher.matches(path)

    def classify(self, path: str) -> tuple[int | None, list[int]]:
        """(class, matching label lines): class is None unless exactly one label matches."""
        found = self.matches(path)
        if len(found) != 1:
            return None, found
        i = found[0]
        return (self.mapping[i] if self.mapping is not None else i), found

    def describe_bad(self, path: str, found: list[int]) -> str:
        if not found:
            return f"{path}: no entry of the labels list in the path (class not guessed: image left out)"
        names = ", ".join(repr(self.labels[i]) for i in found)
        return f"{path}: several labels in the path ({names}) (class not guessed: image left out)"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_matcher"] = None   # rebuilt in each worker
        return state


def assign_classes(paths: list[str], rule: PathClasses) -> tuple[list[str], list[int], list[str]]:
    """Kept paths, their classes, and one report line per path left out."""
    kept, classes, bad = [], [], []
    for p in paths:
        cls, found = rule.classify(p)
        if cls is None:
            bad.append(rule.describe_bad(p, found))
        else:
            kept.append(p)
            classes.append(int(cls))
    return kept, classes, bad


# -- the sampling pattern ---------------------------------------------------------------------

def effective_ratio(ratio: float, n_detection: int, n_classification: int) -> Fraction:
    """Classification images per detection image: `ratio`, but no more than the lists' proportion."""
    if ratio < 0:
        raise UsageError(f"--class-ratio must be >= 0 (got {ratio})")
    if n_classification == 0:
        return Fraction(0)
    r = Fraction(ratio).limit_denominator(1000)
    if n_detection:
        r = min(r, Fraction(n_classification, n_detection))
    return r


def slot_is_classification(g: int, ratio: Fraction) -> bool:
    """Global image slot `g` (batch * batch_images + slot) is a classification slot: exactly
    floor(n * r / (r + 1)) of the first n slots are, so every prefix has at most r per detection."""
    if ratio <= 0:
        return False
    q = ratio / (ratio + 1)
    return (q * (g + 1)).__floor__() - (q * g).__floor__() == 1


# -- the worker-side source ---------------------------------------------------------------------

@dataclass
class JointSource(DetectionSource):
    """`DetectionSource` plus classification-only images (see module doc). Plain values: pickled
    once per worker."""

    rule: PathClasses | None = None          # class from path, for images without a label file
    cls_paths: list[str] = field(default_factory=list)
    cls_classes: list[int] = field(default_factory=list)
    ratio: Fraction = Fraction(0)
    batch_images: int = 1                    # images per batch over all ranks (slots per batch)
    tree_classes: int = 0                    # valid class-only indexes (the tree's size)
    box_classes: int = 0                     # valid box classes (the cfg's map= size; 0: classes)

    def slot_kind(self, iteration: int, slot: int) -> str:
        """'classify' (from the classify= list) or 'train' (from the train= list)."""
        if not self.cls_paths:
            return "train"
        g = iteration * self.batch_images + slot
        return "classify" if slot_is_classification(g, self.ratio) else "train"

    def read_joint_labels(self, image: str, warnings: list) -> tuple[np.ndarray, np.ndarray] | None:
        """(boxes, class-only rows) for a train-list image; None: leave the image out."""
        path = label_file(image, self.list_dir or None)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            if self.rule is not None:
                cls, found = self.rule.classify(image)
                if cls is not None:
                    return np.zeros((0, 5), np.float32), class_only_row(cls)
                if found:   # two or more labels: report, never guess
                    text = self.rule.describe_bad(image, found)
                    warnings.append((f"path-class:{image}", text))
                    return None
            why = " and no label of the labels list in its path" if self.rule else ""
            warnings.append((MISSING_LABELS, missing_labels_message(path, image, why)))
            return np.zeros((0, 5), np.float32), np.zeros((0, 5), np.float32)
        boxes, marks, problems = split_label_text(text, path, self.tree_classes or self.classes,
                                                  self.box_classes or None)
        for p in problems:
            warnings.append((p, p + " (line skipped)"))
        if len(marks) and len(boxes):
            warnings.append((f"mixed:{path}", f"{path}: boxes and a classification-only line in one file: "
                                              f"only the classification-only line is used"))
        return boxes, marks

    def _read_image(self, path: str, warnings: list):
        return read_rgb_or_warn(path, warnings)

    def load(self, req: Request) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, str]]]:
        warnings: list[tuple[str, str]] = []
        images = np.empty((req.count, 3, req.height, req.width), np.float32)
        truth = np.zeros((req.count, self.max_boxes, 5), np.float32)
        jitter = dict(jitter=self.jitter, hue=self.hue, saturation=self.saturation, exposure=self.exposure)
        for k in range(req.count):
            slot = req.first + k
            rng = np.random.default_rng([self.seed, req.iteration, slot])
            kind = self.slot_kind(req.iteration, slot)
            for _attempt in range(100):
                if kind == "classify":
                    i = int(rng.integers(len(self.cls_paths)))
                    path = self.resolve(self.cls_paths[i])
                    boxes, marks = np.zeros((0, 5), np.float32), class_only_row(self.cls_classes[i])
                else:
                    path = self.resolve(self.paths[int(rng.integers(len(self.paths)))])
                    got = self.read_joint_labels(path, warnings)
                    if got is None:
                        continue
                    boxes, marks = got
                rgb = self._read_image(path, warnings)
                if rgb is not None:
                    break
            else:
                raise DataError(f"100 images in a row could not be used (last: {path})")
            images[k], truth[k] = augment_joint(rgb, boxes, marks, rng, req.width, req.height,
                                                max_boxes=self.max_boxes, **jitter)
        return torch.from_numpy(images), torch.from_numpy(truth), warnings


# -- the task -------------------------------------------------------------------------------------

class JointTask(DetectionTask):
    """`DetectionTask` over a `JointSource`; reports `cls-only`, the batch's classification-only
    images, in the progress line."""

    def __init__(self, net, train_paths, classes=None, *, rule: PathClasses | None = None,
                 cls_paths=(), cls_classes=(), ratio: Fraction = Fraction(0), **kwargs):
        super().__init__(net, train_paths, classes, **kwargs)
        self.rule = rule
        self.cls_paths = list(cls_paths)
        self.cls_classes = list(cls_classes)
        self.ratio = ratio

    def make_source(self, trainer) -> JointSource:
        n = trainer.net.net
        tree = self.region.tree
        return JointSource(self.paths, self.region.classes, self.region.max_boxes, self.region.jitter,
                           n.hue, n.saturation, n.exposure, trainer.seed, self.list_dir, rule=self.rule,
                           cls_paths=self.cls_paths, cls_classes=self.cls_classes, ratio=self.ratio,
                           batch_images=trainer.images_per_step,
                           tree_classes=tree.n if tree is not None else 0,
                           box_classes=len(self.region.class_map or ()))

    def loss(self, net, images, targets, seen) -> StepReport:
        report = super().loss(net, images, targets, seen)
        report.totals["cls-only"] = float(count_class_only(targets))
        return report

    def describe(self) -> list[str]:
        lines = []
        if self.cls_paths:
            lines.append(f"joint training: {len(self.cls_paths)} classification images, at most "
                         f"{float(self.ratio):g} per detection image")
        if self.rule is not None:
            lines.append(f"classification-only images: label lines `class 0 0 w h` (or x, y >= 1e5), or no label file and "
                         f"one of {len(self.rule.labels)} labels in the path"
                         + (" (mapped through map=)" if self.rule.mapping is not None else ""))
        return lines


def path_rule(data, classes: int) -> PathClasses | None:
    """The class-from-path rule of a `.data` file (`labels=`, optional `map=`), or None."""
    if data.get("labels") is None:
        return None
    labels = read_names(data.resolve("labels"))
    if not labels:
        raise DataError("the labels= list is empty", file=data.path, line=data.lines.get("labels"))
    mapping = None
    if data.get("map") is not None:
        m = read_map(data.resolve("map"))
        if len(m) == len(labels):
            mapping = m
        elif len(labels) != classes:
            raise DataError(f"map= has {len(m)} entries and labels= {len(labels)}: cannot tell the class "
                            f"of a label line (classes={classes})", file=data.path,
                            line=data.lines.get("map"))
        # else: labels= already lists the tree's classes; map= is the evaluation map (combine9k.data)
    if mapping is None and len(labels) > classes:
        raise DataError(f"labels= has {len(labels)} entries but classes={classes} (and no map= with one "
                        f"entry per label)", file=data.path, line=data.lines.get("labels"))
    if mapping is not None:
        bad = [v for v in mapping if not 0 <= v < classes]
        if bad:
            raise DataError(f"map= entry {bad[0]} outside 0..{classes - 1}", file=data.path,
                            line=data.lines.get("map"))
    return PathClasses(labels, mapping)


def make_detection_task(net, paths: list[str], config, opts, *, list_dir: str = ""):
    """The task `darkpy train` runs: a `JointTask` for a tree cfg or a `.data` file with
    `classify=`, the plain `DetectionTask` otherwise."""
    data = config.source
    classes = config.classes
    regions = [l for l in net.detection_layers if l.section_name == "region"]
    tree = regions[-1].tree if regions else None
    classify = data.get("classify")
    if classify is None and tree is None:
        if opts.class_ratio is not None:
            raise UsageError("--class-ratio needs a `classify = LIST` entry in the .data file")
        return DetectionTask(net, paths, classes, workers=opts.workers, list_dir=list_dir)
    if tree is None:
        raise CfgError("classification-only images (classify= in the .data file) need a WordTree cfg: its "
                       "[region] layer has no tree=", file=getattr(net, "cfg_path", None))
    rule = path_rule(data, classes)
    cls_paths: list[str] = []
    cls_classes: list[int] = []
    ratio = Fraction(0)
    if classify is not None:
        if rule is None:
            raise DataError("classify= needs labels= (the class of a classification image is the label in "
                            "its path)", file=data.path, line=data.lines.get("classify"))
        listed = read_image_list(data.resolve("classify"))
        cls_paths, cls_classes, bad = assign_classes(listed, rule)
        if bad:
            import sys

            more = f"\n  ... and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
            shown = "\n  ".join(bad[:SHOWN]) + more
            print(f"warning: {len(bad)} of {len(listed)} classification images left out:\n  {shown}",
                  file=sys.stderr)
        if not cls_paths:
            raise DataError("no image of the classify= list has exactly one label in its path",
                            file=data.path, line=data.lines.get("classify"))
        ratio = effective_ratio(DEFAULT_RATIO if opts.class_ratio is None else opts.class_ratio, len(paths),
                                len(cls_paths))
    elif opts.class_ratio is not None:
        raise UsageError("--class-ratio needs a `classify = LIST` entry in the .data file")
    cls_dir = str(Path(data.resolve("classify")).parent) if classify is not None else ""
    cls_paths = [str(resolve_entry(p, cls_dir or None)) for p in cls_paths]   # relative: beside the list
    task = JointTask(net, paths, classes, rule=rule, cls_paths=cls_paths, cls_classes=cls_classes, ratio=ratio,
                     workers=opts.workers, list_dir=list_dir)
    return task
