"""`--engine auto|torch|numpy` for the commands that run a detector over a `.data` file's valid list
(`recall`, `valid`, `map DATA CFG WEIGHTS`) and for `classifier predict`: the rule of `darkpy detect`
(`darkpy.detect.numpy_engine.choose_engine`), so a few images never pay for importing torch."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import typer

ENGINE_HELP = ("auto, torch or numpy. numpy: a torch-free fp32 forward for YOLOv2-style [region] nets (no "
               "WordTree), fast to start; auto picks it for up to 4 images (recall, valid, map: up to 4 "
               "yolov2-voc images' worth of work) at fp32/auto precision when CUDA is not wanted "
               "(docs/detect.md).")


CLASSIFIER_ENGINE_HELP = ("auto, torch or numpy. numpy: a torch-free fp32 forward, fast to start; auto picks it "
                          "for up to 4 images (or up to 4 yolov2-voc images' worth of work: 16 Darknet-19 "
                          "images at 256) when CUDA is not wanted (docs/classifier.md).")


def engine_option(help: str = ENGINE_HELP):
    return typer.Option("auto", "--engine", help=help)


def load_for_engine(cfg: Path, weights: Path, size: Optional[int], device: Optional[str], precision: str,
                    engine: str, n_images: int, on_note: Callable[[str], None]):
    """(network, predictor) for `n_images` images: a `NumpyNetwork` and None when `choose_engine`
    (weighing the network's BFLOPs) picks numpy and the numpy forward runs this cfg; else the
    torch Network and its `load_inference_predictor`. A cfg the numpy engine does not run falls back
    to torch, with a note when numpy was asked for."""
    from darkpy.detect.numpy_engine import ENGINES, choose_engine, spec_bflops
    from darkpy.errors import UsageError
    from darkpy.net.numpy_forward import NumpyNetwork, NumpyUnsupported
    from darkpy.net.spec import read_spec

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    spec = read_spec(cfg, size)  # the cfg, read once for either engine
    if choose_engine(engine, n_images, precision, device, bflops=spec_bflops(spec)) == "numpy":
        try:
            return NumpyNetwork.load(spec, weights), None
        except NumpyUnsupported as exc:
            if engine == "numpy":
                on_note(f"darkpy: the numpy engine does not run this network ({exc}); using torch")
    from darkpy.cli.precision import load_inference_predictor

    predictor = load_inference_predictor(spec, weights, precision, device=device)
    return predictor.net, predictor


def load_classifier_for_engine(cfg: Path, weights: Path, device: Optional[str], engine: str, n_images: int,
                               on_note: Callable[[str], None]):
    """The classifier that runs `n_images` images: a `NumpyNetwork` (classifier=True) when
    `choose_engine` (at fp32, weighing the network's BFLOPs) picks numpy and the numpy forward runs
    the cfg, else the torch Network (a cfg the numpy engine does not run falls back to torch, with
    a note when numpy was asked for)."""
    from darkpy.detect.numpy_engine import ENGINES, choose_engine, spec_bflops
    from darkpy.errors import UsageError
    from darkpy.net.numpy_forward import NumpyNetwork, NumpyUnsupported
    from darkpy.net.spec import read_spec

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    spec = read_spec(cfg)
    if choose_engine(engine, n_images, "fp32", device, bflops=spec_bflops(spec)) == "numpy":
        try:
            return NumpyNetwork.load(spec, weights, classifier=True)
        except NumpyUnsupported as exc:
            if engine == "numpy":
                on_note(f"darkpy: the numpy engine does not run this network ({exc}); using torch")
    from darkpy.net.model import load_network

    return load_network(spec, weights, None, device)
