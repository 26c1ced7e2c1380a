"""Where AlexeyAB's Darknet looks for an image's label file (src/utils.c, replace_image_to_label).

pjreddie's rule (`darkpy.formats.labels.label_path_for`) replaces the first `images`, `JPEGImages`
and `raw` anywhere in the path. AlexeyAB's replaces only whole folder names it knows: COCO's
`/images/train2014/`, `/images/val2014/`, `/images/train2017/`, `/images/val2017/` and VOC's
`/JPEGImages/`; any other `images/` folder keeps its labels *beside* the pictures. A layout every
Darknet finds therefore has the label file at both places when they differ
(`darkpy data synth` writes both; `darkpy data check` warns when one is missing).
"""
from __future__ import annotations

from pathlib import Path

FOLDERS = (("/images/train2017/", "/labels/train2017/"), ("/images/val2017/", "/labels/val2017/"),
           ("/JPEGImages/", "/labels/"),
           ("\\images\\train2017\\", "\\labels\\train2017\\"), ("\\images\\val2017\\", "\\labels\\val2017\\"),
           ("\\images\\train2014\\", "\\labels\\train2014\\"), ("\\images\\val2014\\", "\\labels\\val2014\\"),
           ("/images/train2014/", "/labels/train2014/"), ("/images/val2014/", "/labels/val2014/"),
           ("\\JPEGImages\\", "\\labels\\"))
EXTENSIONS = (".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG", ".bmp", ".BMP", ".ppm", ".PPM", ".tiff", ".TIFF")


def label_path(image: str | Path) -> Path:
    """AlexeyAB's rule: image path -> label path (no file system access). Each folder pair
    replaces its first occurrence, in AlexeyAB's order; then a known extension becomes .txt."""
    return Path(label_text(image))


def label_text(image: str | Path) -> str:
    """`label_path` as a string, as the rule writes it (20k entries: no Path objects)."""
    text = str(image).strip()
    for old, new in FOLDERS:
        text = text.replace(old, new, 1)
    for ext in EXTENSIONS:
        if text.endswith(ext):
            text = text[: -len(ext)] + ".txt"
            break
    return text
