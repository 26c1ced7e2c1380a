"""Every layer's output of the numpy engine against the golden files the real Darknet wrote."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def assert_layers_match_darknet(net, folder: Path, outs) -> list[Path]:
    """Each `layerNN.f32` in `folder` against `outs[NN]` (the engine's kept outputs), to 1e-4 of
    the layer's largest value; returns the files compared."""
    files = sorted(folder.glob("layer*.f32"))
    for f in files:
        i = int(f.stem[5:])
        ref = np.fromfile(f, np.float32)
        got = np.ascontiguousarray(outs[i]).ravel()
        assert got.size == ref.size, i
        err = np.abs(got - ref).max()
        assert err <= 1e-4 * np.abs(ref).max(), f"layer {i} ({net.layers[i].kind}): max abs error {err}"
    return files
