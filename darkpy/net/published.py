"""Darknet's published weights for the cfgs darkpy ships, and where `--model NAME` finds them.

Every size is computed, not copied: the cfg's parameter count (its layer specs'
`num_weight_floats`, up to the cut layer for partial files such as `darknet19_448.conv.23`)
times 4, plus the header. The YOLOv2-era files were written by Darknet 0.1 (a 16-byte header,
`seen` as int32); the YOLOv3-era ones by 0.2 (20 bytes). The download check reads the header
of the file it got, so either version passes when the floats fit the cfg.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from darkpy.assets import asset
from darkpy.net.spec import read_spec

DEFAULT_BASE_URL = "https://pjreddie.com/media/files/"
BASE_URL_ENV = "DARKPY_WEIGHTS_URL"
DIR_ENV = "DARKPY_WEIGHTS"


@dataclass(frozen=True)
class Published:
    name: str                 # what `--model` and `weights download` take
    file: str                 # Darknet's file name
    cfg: str                  # bundled cfg, relative to the project root
    names: Optional[str]      # class names (detectors) relative to the project root
    header: int = 16          # header bytes the published file has (16: Darknet 0.1, 20: 0.2)
    upto: Optional[int] = None  # partial file: layers [0, upto) only
    note: str = ""
    # SHA-256 of the published file, only where known for certain (a digest taken from the real
    # file, not from memory or a third party): none is recorded yet, so downloads are checked by
    # header, size and finite floats, plus `weights download --sha256` when the user has one
    sha256: Optional[str] = None

    @property
    def url_path(self) -> str:
        return self.file

    def cfg_path(self) -> Path:
        return asset(self.cfg)

    def names_path(self) -> Optional[Path]:
        return asset(self.names) if self.names else None

    def floats(self) -> int:
        """Floats the file holds according to the cfg (its layer specs' count)."""
        return read_spec(self.cfg_path()).num_weight_floats(self.upto)

    def size(self) -> int:
        return self.header + 4 * self.floats()


CATALOG: tuple[Published, ...] = (
    Published("yolov2", "yolov2.weights", "cfg/yolov2.cfg", "data/coco.names",
              note="YOLOv2 608x608, COCO (80 classes)"),
    Published("yolov2-voc", "yolov2-voc.weights", "cfg/yolov2-voc.cfg", "data/voc.names",
              note="YOLOv2 416x416, VOC 2007+2012 (20 classes)"),
    Published("yolov2-tiny", "yolov2-tiny.weights", "cfg/yolov2-tiny.cfg", "data/coco.names",
              note="Tiny YOLOv2, COCO"),
    Published("yolov2-tiny-voc", "yolov2-tiny-voc.weights", "cfg/yolov2-tiny-voc.cfg", "data/voc.names",
              note="Tiny YOLOv2, VOC"),
    Published("yolo9000", "yolo9000.weights", "cfg/yolo9000.cfg", "data/9k.names",
              note="YOLO9000, 9418 WordTree classes"),
    Published("darknet19", "darknet19.weights", "cfg/darknet19.cfg", "data/imagenet.shortnames.list",
              note="Darknet-19 ImageNet classifier, 224x224"),
    Published("darknet19_448", "darknet19_448.weights", "cfg/darknet19_448.cfg",
              "data/imagenet.shortnames.list", note="Darknet-19 fine-tuned at 448x448"),
    Published("darknet19_448.conv.23", "darknet19_448.conv.23", "cfg/darknet19_448.cfg", None, upto=23,
              note="first 23 layers: the start for training YOLOv2 (darkpy train ... --weights)"),
    Published("extraction", "extraction.weights", "cfg/extraction.cfg", "data/imagenet.shortnames.list",
              note="Extraction (GoogLeNet-like) classifier"),
    Published("tiny", "tiny.weights", "cfg/tiny.cfg", "data/imagenet.shortnames.list",
              note="Tiny Darknet classifier"),
    Published("darknet53.conv.74", "darknet53.conv.74", "cfg/darknet53.cfg", None, header=20, upto=74,
              note="first 74 layers of Darknet-53: the start for training YOLOv3"),
    Published("yolov3", "yolov3.weights", "cfg/yolov3.cfg", "data/coco.names", header=20,
              note="YOLOv3 608x608, COCO"),
    Published("yolov3-tiny", "yolov3-tiny.weights", "cfg/yolov3-tiny.cfg", "data/coco.names", header=20,
              note="Tiny YOLOv3, COCO"),
)

# shipped cfgs with no published file, and why
UNPUBLISHED = {
    "cfg/darknet9000.cfg": "no published weights: train it (docs/wordtree) or use yolo9000.weights",
    "cfg/yolov3-voc.cfg": "no published weights: train from darknet53.conv.74",
    "cfg/darknet53.cfg": "the full classifier weights are not in this table; darknet53.conv.74 is",
    "cfg/darknet19_1k_tree.cfg": "no published weights: WordTree1k classifier over data/1k.tree, train it "
                                 "with darkpy classifier train (docs/yolo9000.md)",
    "cfg/demo.cfg": "bundled: data/demo/demo.weights (darkpy's synthetic-shapes demo)",
}


def find_published(name: str) -> Optional[Published]:
    """An entry by model name or file name (`yolov2-voc`, `yolov2-voc.weights`)."""
    for p in CATALOG:
        if name in (p.name, p.file):
            return p
    return None


def base_url(override: Optional[str] = None) -> str:
    url = override or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def weights_dir() -> Path:
    """Where `weights download` puts files by default: $DARKPY_WEIGHTS, else ~/.cache/darkpy/weights."""
    env = os.environ.get(DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    root = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return root / "darkpy" / "weights"


def search_dirs(extra: Optional[Path] = None) -> list[Path]:
    """Where `--model NAME` looks for NAME's weights, in order: the folder given explicitly, the
    darkpy weights folder ($DARKPY_WEIGHTS or ~/.cache/darkpy/weights), the current folder."""
    dirs = [extra] if extra is not None else []
    dirs += [weights_dir(), Path.cwd()]
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen
