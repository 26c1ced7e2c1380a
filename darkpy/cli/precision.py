"""The `--precision` option shared by the commands that run a network for inference."""
from __future__ import annotations

import typer

PRECISION_HELP = ("auto (bf16 on CPUs with AMX or AVX512_BF16, fp16 on CUDA, else fp32), fp32 (Darknet's "
                  "numbers), bf16 or fp16.")


def precision_option(default: str = "auto"):
    return typer.Option(default, "--precision", help=PRECISION_HELP)


COMPILE_HELP = ("Trace and freeze the network with oneDNN's fused conv+bias+leaky kernels: ~1.1x faster per "
                "image, 1-5 s to build; worth it for long runs only.")


def compile_option():
    return typer.Option(False, "--compile", help=COMPILE_HELP)


def inference_predictor(net, precision: str, device=None, compile: bool = False):
    """The network folded for inference in place (a command owns the network it loaded) at the
    asked precision."""
    from darkpy.net.inference import Predictor

    return Predictor(net, device=device, precision=precision, inplace=True, compile=compile)
