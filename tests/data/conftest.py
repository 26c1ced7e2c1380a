"""Small builders for data-set tests: a tiny VOCdevkit, a tiny COCO file, a checked list."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest


def write_jpeg(path: Path, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((height, width, 3), 127, np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def voc_xml(width: int | None, height: int | None, objects: list[dict]) -> str:
    size = "" if width is None else (
        f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>")
    body = ""
    for o in objects:
        body += (
            f"<object><name>{o['name']}</name><pose>Left</pose>"
            f"<truncated>{o.get('truncated', 0)}</truncated><difficult>{o.get('difficult', 0)}</difficult>"
            f"<bndbox><xmin>{o['box'][0]}</xmin><ymin>{o['box'][1]}</ymin>"
            f"<xmax>{o['box'][2]}</xmax><ymax>{o['box'][3]}</ymax></bndbox></object>"
        )
    return f"<annotation><folder>VOC</folder><filename>x.jpg</filename>{size}{body}</annotation>"


@pytest.fixture
def devkit(tmp_path: Path) -> Path:
    """VOC2007 (trainval: 000001, 000002; test: 000003) and VOC2012 (trainval: 2012_000001)."""
    root = tmp_path / "VOCdevkit"
    files = {
        ("2007", "000001"): voc_xml(500, 375, [
            {"name": "dog", "box": (48, 240, 195, 371)},
            {"name": "person", "box": (8, 12, 352, 370), "truncated": 1},
        ]),
        ("2007", "000002"): voc_xml(500, 333, [
            {"name": "train", "box": (100.5, 50, 200.5, 150)},
            {"name": "car", "box": (1, 1, 20, 10), "difficult": 1},
            {"name": "unicorn", "box": (5, 5, 50, 50)},
        ]),
        ("2007", "000003"): voc_xml(353, 500, [{"name": "cat", "box": (1, 1, 353, 500)}]),
        ("2012", "2012_000001"): voc_xml(500, 375, [{"name": "bird", "box": (8, 12, 499, 375)}]),
    }
    for (year, image_id), xml in files.items():
        ann = root / f"VOC{year}" / "Annotations" / f"{image_id}.xml"
        ann.parent.mkdir(parents=True, exist_ok=True)
        ann.write_text(xml)
        write_jpeg(root / f"VOC{year}" / "JPEGImages" / f"{image_id}.jpg")
    sets = {("2007", "trainval"): "000001\n000002\n", ("2007", "test"): "000003\n",
            ("2012", "trainval"): "2012_000001\n"}
    for (year, name), text in sets.items():
        p = root / f"VOC{year}" / "ImageSets" / "Main" / f"{name}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture
def coco_files(tmp_path: Path) -> tuple[Path, Path]:
    """An instances file with a category-id gap (1, 2, 5), a crowd box and boxes past the edge."""
    images = tmp_path / "val2017"
    write_jpeg(images / "000000000001.jpg", 64, 48)
    write_jpeg(images / "000000000002.jpg", 32, 32)
    write_jpeg(images / "000000000003.jpg", 32, 32)
    doc = {
        "images": [
            {"id": 1, "file_name": "000000000001.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "000000000002.jpg", "width": 100, "height": 200},
            {"id": 3, "file_name": "000000000003.jpg", "width": 100, "height": 100},
        ],
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person"},
            {"id": 2, "name": "bicycle", "supercategory": "vehicle"},
            {"id": 5, "name": "airplane", "supercategory": "vehicle"},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 50], "iscrowd": 0},
            {"id": 11, "image_id": 1, "category_id": 5, "bbox": [600, -5, 50, 100], "iscrowd": 0},
            {"id": 12, "image_id": 1, "category_id": 2, "bbox": [0, 0, 640, 480], "iscrowd": 1},
            {"id": 13, "image_id": 2, "category_id": 2, "bbox": [25, 50, 50, 100], "iscrowd": 0},
            {"id": 14, "image_id": 2, "category_id": 5, "bbox": [120, 10, 5, 5], "iscrowd": 0},
        ],
    }
    ann = tmp_path / "instances_val2017.json"
    ann.write_text(json.dumps(doc))
    return ann, images
