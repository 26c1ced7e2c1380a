"""The `--precision` option shared by the commands that run a network for inference."""
from __future__ import annotations

import typer

PRECISION_HELP = ("auto (fp32 on CPU: Darknet's numbers; fp16 on CUDA), fp32, bf16 (faster on CPUs with AMX "
                  "or AVX512_BF16, see `darkpy benchmark`) or fp16. A run that is not fp32 says so.")


def precision_option(default: str = "auto"):
    return typer.Option(default, "--precision", help=PRECISION_HELP)


COMPILE_HELP = ("Trace and freeze the network with oneDNN's fused conv+bias+leaky kernels: ~1.1x faster per "
                "image, 1-5 s to build; worth it for long runs only.")


def compile_option():
    return typer.Option(False, "--compile", help=COMPILE_HELP)


def load_inference_predictor(cfg, weights, precision: str, device=None, size=None, compile: bool = False):
    """The network of `cfg` and `weights` (None: random) loaded for inference at the asked
    precision: `Predictor.load`, which reads a bf16/fp16 network one layer at a time (the
    float32 file never sits in memory beside the converted copy)."""
    from darkpy.device import select_device
    from darkpy.net.inference import Predictor

    refuse_cpu_fp16(precision, select_device(device))
    return Predictor.load(cfg, weights, size=size, device=device, precision=precision, compile=compile)


def precision_note(runner) -> str:
    """' (bf16)' for a summary line when `runner` (a Detector, a Predictor or the numpy engine) did
    not run in fp32, '' when it did: a run that does not give Darknet's numbers says so."""
    predictor = getattr(runner, "predictor", runner)
    name = getattr(predictor, "precision", "fp32")
    if name == "fp32":
        return ""
    kept = getattr(predictor, "kept_fp32", None)
    more = f"; layer(s) {', '.join(map(str, kept))} kept in fp32, not finite in {name}" if kept else ""
    return f" ({name}, not Darknet's fp32: --precision fp32{more})"


def refuse_cpu_fp16(precision, device) -> None:
    """fp16 on a CPU: one line instead of a run ~4x slower than bf16 (CPUs have no fp16 math).
    `device` is where the network runs (a torch device or its name)."""
    from darkpy.errors import UsageError

    text = str(precision).strip().lower()
    if text in ("fp16", "half", "float16") and str(device).startswith("cpu"):
        raise UsageError("fp16 (--half / --precision fp16) is for CUDA; on a CPU it is ~4x slower than bf16: "
                         "use --precision bf16 or fp32")
