"""PNG charts drawn with OpenCV.

Loss curves, PR curves, k-vs-IoU sweeps and box scatters are things people would rather see than
read. OpenCV is already a dependency and draws them well enough, so no plotting library is added.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

PALETTE = [  # BGR, colour-blind friendly (Okabe-Ito)
    (178, 114, 0), (0, 159, 230), (115, 158, 0), (66, 228, 240), (167, 121, 204),
    (0, 94, 213), (233, 180, 86), (0, 0, 0),
]


@dataclass
class Series:
    """One line (or point cloud) on a chart."""

    x: Sequence[float]
    y: Sequence[float]
    label: str = ""
    points: bool = False
    color: tuple[int, int, int] | None = None


@dataclass
class Chart:
    title: str
    xlabel: str = ""
    ylabel: str = ""
    series: list[Series] = field(default_factory=list)
    marks: list[tuple[float, float, str]] = field(default_factory=list)
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    size: tuple[int, int] = (800, 560)
    integer_x: bool = False        # x counts things (batches): ticks on whole numbers only

    def add(self, x: Sequence[float], y: Sequence[float], label: str = "", points: bool = False) -> "Chart":
        self.series.append(Series(list(map(float, x)), list(map(float, y)), label, points))
        return self

    def mark(self, x: float, y: float, text: str) -> "Chart":
        self.marks.append((float(x), float(y), text))
        return self

    def x_ticks(self, x0: float, x1: float) -> list[tuple[float, str]]:
        """(position, label) of the x grid lines: six even ones, or for `integer_x` whole numbers
        a whole step apart (a 2-batch run is not labelled 0.4, 0.8...)."""
        if not self.integer_x:
            return [(x0 + (x1 - x0) * i / 5, _fmt(x0 + (x1 - x0) * i / 5, (x1 - x0) / 5)) for i in range(6)]
        step = max(1, math.ceil((x1 - x0) / 5))
        first = math.ceil(x0 / step) * step
        return [(float(v), str(v)) for v in range(first, math.floor(x1) + 1, step)]

    def render(self) -> np.ndarray:
        import cv2

        w, h = self.size
        img = np.full((h, w, 3), 255, np.uint8)
        left, right, top, bottom = 80, 20, 50, 60
        pw, ph = w - left - right, h - top - bottom
        xs = [v for s in self.series for v in s.x if math.isfinite(v)]
        ys = [v for s in self.series for v in s.y if math.isfinite(v)]
        x0, x1 = self.xlim or ((min(xs), max(xs)) if xs else (0.0, 1.0))
        y0, y1 = self.ylim or ((min(ys), max(ys)) if ys else (0.0, 1.0))
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + (abs(y0) * 0.1 or 1.0)

        def px(x: float, y: float) -> tuple[int, int]:
            return (
                int(round(left + (x - x0) / (x1 - x0) * pw)),
                int(round(top + ph - (y - y0) / (y1 - y0) * ph)),
            )

        font = cv2.FONT_HERSHEY_SIMPLEX
        grey = (200, 200, 200)
        for gx, label in self.x_ticks(x0, x1):
            p = px(gx, y0)
            cv2.line(img, (p[0], top), (p[0], top + ph), grey, 1)
            cv2.putText(img, label, (p[0] - 18, top + ph + 20), font, 0.42, (60, 60, 60), 1, cv2.LINE_AA)
        for i in range(6):
            gy = y0 + (y1 - y0) * i / 5
            q = px(x0, gy)
            cv2.line(img, (left, q[1]), (left + pw, q[1]), grey, 1)
            cv2.putText(img, _fmt(gy, (y1 - y0) / 5), (5, q[1] + 5), font, 0.42, (60, 60, 60), 1, cv2.LINE_AA)
        cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
        for i, s in enumerate(self.series):
            color = s.color or PALETTE[i % len(PALETTE)]
            pts = [px(x, y) for x, y in zip(s.x, s.y) if math.isfinite(x) and math.isfinite(y)]
            if s.points:
                for p in pts:
                    cv2.circle(img, p, 2, color, -1, cv2.LINE_AA)
            elif len(pts) > 1:
                cv2.polylines(img, [np.array(pts, np.int32)], False, color, 2, cv2.LINE_AA)
            elif pts:
                cv2.circle(img, pts[0], 3, color, -1, cv2.LINE_AA)
        for x, y, text in self.marks:
            p = px(x, y)
            cv2.circle(img, p, 7, (0, 0, 220), 2, cv2.LINE_AA)
            cv2.putText(img, text, (p[0] + 10, p[1] - 10), font, 0.5, (0, 0, 220), 1, cv2.LINE_AA)
        cv2.putText(img, self.title, (left, 32), font, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(img, self.xlabel, (left + pw // 2 - 40, h - 15), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, self.ylabel, (5, top - 12), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        ly = top + 20
        for i, s in enumerate(self.series):
            if not s.label:
                continue
            color = s.color or PALETTE[i % len(PALETTE)]
            cv2.line(img, (left + pw - 170, ly - 5), (left + pw - 145, ly - 5), color, 3)
            cv2.putText(img, s.label[:22], (left + pw - 140, ly), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
            ly += 18
        return img

    def save(self, path: str | Path) -> Path:
        """Write atomically, so a chart being refreshed during training is never half a file."""
        import cv2

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.png")
        cv2.imwrite(str(tmp), self.render())
        tmp.replace(path)
        return path


def _fmt(v: float, step: float | None = None) -> str:
    """A tick label with as many decimals as the tick spacing needs (so neighbours differ)."""
    a = abs(v)
    if a != 0 and (a >= 1e6 or (a < 1e-3 and (step is None or step < 1e-3))):
        return f"{v:.1e}"
    if step is None or step <= 0:
        return f"{v:.3g}" if a < 100 else f"{v:.0f}"
    decimals = min(4, max(0, -math.floor(math.log10(step))))
    if step >= 1 and abs(step - round(step)) > 1e-9:
        decimals = 1
    return f"{v:.{decimals}f}"
