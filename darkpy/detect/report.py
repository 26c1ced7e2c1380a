"""What a detection run over images leaves behind: Darknet's console lines (or one JSON object
per image), the annotated images, AlexeyAB's extras (`-ext_output`, `-save_labels`, the result
JSON) and the closing summary. `darkpy detect` is this over a `Detector`; Python callers get the
same files and lines by calling `write_results`."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from darkpy.detect.alexeyab import ext_output_line, json_document, json_entry
from darkpy.detect.alexeyab import save_labels as write_labels
from darkpy.detect.output import draw_detections, format_detections, jpeg_quality
from darkpy.detect.overlap import BackgroundWriter
from darkpy.errors import DataError
from darkpy.fileio import inside, write_text_atomic

Echo = Callable[[str], None]


def _stdout(line: str) -> None:
    print(line, file=sys.stdout)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def output_path(out: Optional[Path], path: str, many: bool) -> Path:
    """Where the annotated copy of image `path` goes: `out` itself for one image named like a
    picture, else a file named after the image inside `out` (default predictions.jpg for one
    image, predictions/ for several)."""
    if out is None:
        if not many:
            return Path("predictions.jpg")
        out = Path("predictions")
    elif not many and out.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"):
        return out
    # the image's name (from a list file or a folder) becomes the output's: one file inside `out`
    return inside(out, Path(path).stem + ".jpg", what="output image name (from the image path)")


class AlexeyABExtras:
    """What AlexeyAB's options add to each image's output (darkpy.detect.alexeyab): pixel boxes on
    the console lines, label files beside the images, entries of the result JSON."""

    def __init__(self, ext_output: bool = False, save_labels: bool = False, json_out=None, thresh: float = 0.5):
        self.ext_output, self.save_labels, self.json_out, self.thresh = ext_output, save_labels, json_out, thresh
        self.json_entries: list[str] = []

    def lines(self, r, lines: list[str]) -> list[str]:
        if not self.ext_output:
            return lines
        return [ext_output_line(d, line) for d, line in zip(r.detections, lines)]

    def after(self, r) -> None:
        if self.json_out is not None:
            self.json_entries.append(json_entry(r, len(self.json_entries) + 1))
        if self.save_labels:
            write_labels(r, self.thresh)

    def write_json(self) -> None:
        """The result JSON of every image seen, written at once (AlexeyAB's `-out result.json`)."""
        write_text_atomic(self.json_out, json_document(self.json_entries))


@dataclass
class RunReport:
    """How many images ran and which annotated images were written."""

    done: int = 0
    written: set = field(default_factory=set)

    def summary(self, note: str = "") -> str:
        """The closing line: how many images, `note` (the precision when not fp32), and where the
        annotated images went."""
        done, written = self.done, self.written
        line = f"darkpy: {done} image{'s' if done != 1 else ''}{note}"
        if len(written) == 1:
            return f"{line}; wrote {next(iter(written))}"
        if written:
            folders = sorted({str(p.parent) for p in written})
            where = folders[0] if len(folders) == 1 else f"{len(folders)} folders"
            return f"{line}; wrote {len(written)} annotated images to {where}"
        return line


def write_results(detector, paths: Sequence[str], classes: int, *, out: Optional[Path] = None, save: bool = True,
                  as_json: bool = False, extras: Optional[AlexeyABExtras] = None, echo: Echo = _stdout,
                  warn: Echo = _stderr) -> RunReport:
    """Run `detector` over `paths`: Darknet's lines (or JSON) through `echo`, the annotated images
    (see `output_path`), whichever engine runs; unreadable images are skipped with a line through
    `warn`, and a run where none could be read is a DataError."""
    import cv2

    many = len(paths) > 1
    report = RunReport()
    skipped = 0

    def on_error(path: str, error) -> None:
        nonlocal skipped
        skipped += 1
        warn(f"darkpy: skipping {error}")

    def write(target: Path, img, dets) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), draw_detections(img, dets, classes), jpeg_quality(target)):
            warn(f"darkpy: could not write {target}")

    # Darknet prints each image's own time; a batch runs its images together, so each of its
    # images is given an even share of the batch's time (not all of it on the first one)
    per_batch = detector.images_per_forward
    pending: list = []
    t = time.perf_counter()

    def emit(r, elapsed: float, writer) -> None:
        path, (h, w), dets, img = r.source, (r.height, r.width), r.detections, r.image
        report.done += 1
        if as_json:
            echo(json.dumps({"image": path, "width": w, "height": h,
                             "detections": [d.to_dict() for d in dets]}))
        else:
            echo(f"{path}: Predicted in {elapsed:.6f} seconds.")
            lines = format_detections(dets)
            for line in extras.lines(r, lines) if extras is not None else lines:
                echo(line)
        if extras is not None:
            extras.after(r)
        if save:
            target = output_path(out, path, many)
            n = 1
            while many and target in report.written:  # same file name from different folders
                n += 1
                target = target.with_name(f"{Path(path).stem}_{n}.jpg")
            report.written.add(target)
            writer.submit(write, target, img, dets)

    def flush(writer) -> None:
        nonlocal t
        if not pending:
            return
        now = time.perf_counter()
        share, t = (now - t) / len(pending), now
        for r in pending:
            emit(r, share, writer)
        pending.clear()

    # draw + encode in a thread while the next batch runs; a batch's worth of images waiting is
    # enough to keep it busy (yolov2-voc, 50 photos, bf16: depth 4 as fast as 8, 25 MiB less peak)
    with BackgroundWriter(depth=4) as writer:
        for r in detector.stream(paths, on_error=on_error):
            pending.append(r)
            if len(pending) >= per_batch:
                flush(writer)
        flush(writer)
    if skipped and not report.done:
        raise DataError(f"none of the {skipped} input(s) could be read")
    return report
