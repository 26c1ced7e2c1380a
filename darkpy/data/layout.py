"""Darknet's on-disk layout for converted data sets.

Darknet never reads a label path from a list: it derives it from the image path (`images` or
`JPEGImages` becomes `labels`, the extension becomes `.txt`). The converters therefore write
labels in a `labels/` folder of their own output and reach the user's images through a symlink
beside it, so the user's annotation folders are never written to.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from darkpy.errors import UsageError
from darkpy.formats.alexeyab import label_path as alexeyab_label_path
from darkpy.formats.labels import label_path_for


def ensure_label_rule(image: Path, label: Path) -> None:
    """Refuse an output folder for which Darknet would look for labels somewhere else.

    Darknet replaces the *first* `images` (and `raw`) anywhere in the path, so an output folder
    such as `/data/raw/voc` would send it to `/data/labels/voc/...`.
    """
    expected = label_path_for(image)
    if expected != label:
        raise UsageError(
            f"Darknet would look for the labels of {image} at {expected}, not {label}: "
            "choose an output folder whose path has no 'images' or 'raw' in it"
        )


def warn_one_darknet(image: Path, label: Path) -> None:
    """A warning when AlexeyAB's Darknet would look for `image`'s labels elsewhere than `label`
    (it maps only COCO's train2014/val2014/train2017/val2017 and VOC's JPEGImages folders to
    labels/): converted sets link the user's images, so darkpy cannot put a copy beside them."""
    other = alexeyab_label_path(image)
    if other != label:
        warnings.warn(f"AlexeyAB's Darknet would look for the labels of {image.parent}/ at {other.parent}/, "
                      f"not {label.parent}/: only pjreddie's finds them (name the split train2014, val2014, "
                      "train2017 or val2017 for both)", stacklevel=2)


def check_link(link: Path, target: Path) -> None:
    """Fail before any work if `link` is a real folder other than `target`."""
    if link.is_symlink() or not link.exists():
        return
    if link.resolve() != target.resolve():
        raise UsageError(f"{link} exists and is not a link to {target}; choose another output folder")


def link_images(link: Path, target: Path) -> None:
    """Point `link` at the user's image folder (replacing an older link atomically)."""
    target = target.resolve()
    if link.exists() and not link.is_symlink() and link.resolve() == target:
        return  # output written into the source tree itself: the folder is already there
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.link")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp, target_is_directory=True)
    os.replace(tmp, link)


def list_text(paths: list[str]) -> str:
    return "".join(p + "\n" for p in paths)
