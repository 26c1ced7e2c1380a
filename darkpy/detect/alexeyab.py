"""The outputs AlexeyAB's `detector test` writes where its flags ask for them.

- `-ext_output`: each console line also gives the box in pixels, `dog: 82%` followed by a tab
  and `(left_x:  123   top_y:   45   width:  200   height:  150)` (src/image.c,
  draw_detections_v3: `%4.0f` of C's round(), half away from zero);
- `-out result.json`: a JSON list with one object per image (`frame_id` from 1, `filename`,
  `objects` with class_id, name, relative centre/size and confidence; src/network.c,
  detection_to_json: every (box, class) above the threshold, box by box, `%f` numbers);
- `-save_labels`: a Darknet label file per image (`class x y w h`, `%2.4f`, the best class above
  the threshold of each box), where AlexeyAB's loader looks for it
  (`darkpy.formats.alexeyab.label_path`): pseudo-labels to train on.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from darkpy.detect.results import Detection, DetectionResult
from darkpy.fileio import write_text_atomic
from darkpy.formats.alexeyab import label_path

JSON_MIN_PROB = 0.005   # detection_to_json's own floor (the detector's threshold has cut already)


def c_round(value: float) -> float:
    """C's round(): halves away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def ext_output_line(det: Detection, line: str) -> str:
    """`line` (Darknet's `dog: 82%`) with AlexeyAB's pixel box."""
    left, top = c_round(det.x1), c_round(det.y1)
    width, height = c_round(det.x2 - det.x1), c_round(det.y2 - det.y1)
    return (f"{line}\t(left_x: {left:4.0f}   top_y: {top:4.0f}   width: {width:4.0f}   "
            f"height: {height:4.0f})")


def _objects(result: DetectionResult) -> list[str]:
    names = result.names
    out = []
    for i in range(len(result.probs)):
        x, y, w, h = (float(v) for v in result.rel_boxes[i])
        for j, p in enumerate(result.probs[i].tolist()):
            name = names[j] if names is not None and j < len(names) else str(j)
            if p > JSON_MIN_PROB and not name.startswith("dont_show"):
                out.append(f'  {{"class_id":{j}, "name":{json.dumps(name)}, "relative_coordinates":'
                           f'{{"center_x":{x:f}, "center_y":{y:f}, "width":{w:f}, "height":{h:f}}}, '
                           f'"confidence":{p:f}}}')
    return out


def json_entry(result: DetectionResult, frame_id: int) -> str:
    """One image's object of AlexeyAB's result JSON (frame_id counts from 1)."""
    head = f'{{\n "frame_id":{frame_id}, \n "filename":{json.dumps(result.source)}, \n "objects": [ \n'
    return head + ", \n".join(_objects(result)) + "\n ] \n}"


def json_document(entries: Iterable[str]) -> str:
    return "[\n" + ", \n".join(entries) + "\n]"


def label_lines(result: DetectionResult, thresh: float) -> str:
    """The label file of one image: each box's best class above `thresh`, as AlexeyAB writes it."""
    rows = []
    for i in range(len(result.probs)):
        probs = result.probs[i]
        best, prob = -1, 0.0
        for j, p in enumerate(probs.tolist()):
            if p > thresh and p > prob:
                best, prob = j, p
        if best >= 0:
            x, y, w, h = (float(v) for v in result.rel_boxes[i])
            rows.append(f"{best} {x:2.4f} {y:2.4f} {w:2.4f} {h:2.4f}\n")
    return "".join(rows)


def save_labels(result: DetectionResult, thresh: float) -> Path:
    """Write the image's label file where AlexeyAB's loader reads it; returns its path."""
    path = label_path(result.source)
    write_text_atomic(path, label_lines(result, thresh))
    return path
