"""Speed of the data tools on 20,000 generated entries, against reading the same files.

    .venv/bin/python benchmarks/bench_data.py [--n 20000] [--workers 8]

Each timing is printed with a ratio to a trivial baseline measured in the same run on the same
files (reading every input file's bytes, or `json.load` for COCO), so numbers from different
machines compare. Everything is written to a temporary folder that is removed at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from darkpy.data import check as check_mod  # noqa: E402
from darkpy.data import coco, synth, voc  # noqa: E402
from darkpy.formats.labelcache import LabelCache  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def read_all(paths) -> int:
    total = 0
    for p in paths:
        with open(p, "rb") as fh:
            total += len(fh.read())
    return total


def write_all(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        with open(f"{folder}/{i:06d}.txt", "w") as fh:
            fh.write("0 0.5 0.5 0.1 0.1\n")


def make_voc(root: Path, n: int, rng: np.random.Generator) -> list[Path]:
    ann = root / "VOC2007" / "Annotations"
    ann.mkdir(parents=True)
    jpg = root / "VOC2007" / "JPEGImages"
    jpg.mkdir()
    sets = root / "VOC2007" / "ImageSets" / "Main"
    sets.mkdir(parents=True)
    ids = [f"{i:06d}" for i in range(n)]
    files = []
    for image_id in ids:
        objs = ""
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.integers(1, 300, 2)
            w, h = rng.integers(10, 190, 2)
            name = voc.VOC_CLASSES[int(rng.integers(0, 20))]
            objs += (f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
                     f"<difficult>{int(rng.random() < 0.1)}</difficult><bndbox><xmin>{x0}</xmin>"
                     f"<ymin>{y0}</ymin><xmax>{x0 + w}</xmax><ymax>{y0 + h}</ymax></bndbox></object>")
        path = ann / f"{image_id}.xml"
        path.write_text(f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>"
                        f"<size><width>500</width><height>375</height><depth>3</depth></size>"
                        f"<segmented>0</segmented>{objs}</annotation>")
        files.append(path)
    (sets / "trainval.txt").write_text("".join(i + "\n" for i in ids))
    return files


def make_coco(root: Path, n: int, rng: np.random.Generator) -> tuple[Path, Path]:
    images = root / "train2017"
    images.mkdir(parents=True)
    categories = [{"id": i + 1 + i // 10, "name": f"c{i}"} for i in range(80)]  # ids with gaps
    doc = {"images": [], "annotations": [], "categories": categories}
    aid = 0
    for i in range(n):
        name = f"{i:012d}.jpg"
        (images / name).touch()
        doc["images"].append({"id": i, "file_name": name, "width": 640, "height": 480})
        for _ in range(int(rng.integers(1, 6))):
            x, y = rng.uniform(0, 500, 2)
            w, h = rng.uniform(2, 140, 2)
            cid = categories[int(rng.integers(0, 80))]["id"]
            doc["annotations"].append({"id": aid, "image_id": i, "category_id": cid,
                                       "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                                       "iscrowd": int(rng.random() < 0.01)})
            aid += 1
    ann = root / "instances_train2017.json"
    ann.write_text(json.dumps(doc))
    return ann, images


def make_list(root: Path, n: int, rng: np.random.Generator) -> tuple[Path, list[Path]]:
    images = root / "images"
    labels = root / "labels"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    data = buf.tobytes()
    entries, files = [], []
    for i in range(n):
        img = images / f"{i:06d}.jpg"
        img.write_bytes(data)
        lab = labels / f"{i:06d}.txt"
        rows = []
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0.2, 0.8, 2)
            w, h = rng.uniform(0.05, 0.3, 2)
            rows.append(f"{int(rng.integers(0, 20))} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n")
        lab.write_text("".join(rows))
        entries.append(str(img))
        files += [img, lab]
    lst = root / "list.txt"
    lst.write_text("".join(e + "\n" for e in entries))
    return lst, files


def report(name: str, seconds: float, baseline: float, n: int, base_name: str) -> None:
    print(f"{name:<28} {seconds:7.2f} s  {n / seconds:9.0f} entries/s   "
          f"ratio {seconds / baseline:5.1f}x  vs {baseline:6.2f} s for {base_name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        root = Path(tmp)
        print(f"generating {args.n} annotations of each kind in {root} ...", flush=True)
        xmls = make_voc(root / "VOCdevkit", args.n, rng)
        ann, coco_images = make_coco(root / "coco", args.n, rng)
        lst, files = make_list(root / "set", args.n, rng)

        touch, _ = timed(lambda: write_all(root / "touch", args.n))
        print(f"{'(file system: create files)':<28} {touch:7.2f} s  {args.n / touch:9.0f} files/s",
              flush=True)
        base, _ = timed(lambda: read_all(xmls))
        t, result = timed(lambda: voc.convert(root / "VOCdevkit", "2007:trainval", root / "voc_out"))
        report("data voc (XML -> labels)", t, base, args.n, "read XML bytes")
        report("data voc (XML -> labels)", t, base + touch, args.n, "read XML + write one file each")

        base, _ = timed(lambda: json.loads(ann.read_bytes()))
        t, result = timed(lambda: coco.convert(ann, coco_images, root / "coco_out"))
        report("data coco (JSON -> labels)", t, base, args.n, "json.load")
        report("data coco (JSON -> labels)", t, base + touch, args.n, "json.load + write one file each")

        base, _ = timed(lambda: read_all(files))
        t, rep = timed(lambda: check_mod.check(lst, classes=20, workers=args.workers))
        assert rep.ok, rep.errors[:3]
        report("data check (headers)", t, base, args.n, "read image+label bytes")
        cache = LabelCache(root / "label-cache")
        check_mod.check(lst, classes=20, workers=args.workers, cache=cache)  # fills the cache
        t, rep = timed(lambda: check_mod.check(lst, classes=20, workers=args.workers, cache=cache))
        assert rep.ok, rep.errors[:3]
        report("data check (label cache)", t, base, args.n, "read image+label bytes")
        t, rep = timed(lambda: check_mod.check(lst, classes=20, workers=args.workers, decode=True))
        report("data check --decode", t, base, args.n, "read image+label bytes")

        n = min(args.n, 2000)
        t, _ = timed(lambda: synth.generate(root / "synth", images=n, classes=6, size=128, seed=0))
        print(f"{'data synth (128 px)':<28} {t:7.2f} s  {n / t:9.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
