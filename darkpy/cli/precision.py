"""The `--precision` option shared by the commands that run a network for inference."""
from __future__ import annotations

import typer

PRECISION_HELP = ("auto (bf16 on CPUs with AMX or AVX512_BF16, fp16 on CUDA, else fp32), fp32 (Darknet's "
                  "numbers), bf16 or fp16.")


def precision_option(default: str = "auto"):
    return typer.Option(default, "--precision", help=PRECISION_HELP)


def inference_predictor(net, precision: str, device=None):
    """The network folded for inference in place (a command owns the network it loaded) at the
    asked precision."""
    from darkpy.net.inference import Predictor

    return Predictor(net, device=device, precision=precision, inplace=True)
