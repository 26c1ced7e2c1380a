"""Which floating-point type inference runs in: `auto`, `fp32`, `bf16` or `fp16`.

`auto` gives Darknet's numbers on the CPU: fp32, for every command and any number of images (the
torch and the numpy engines then agree within 1e-5). On CUDA it is fp16, as AlexeyAB's CUDNN_HALF
build runs. bf16 is asked for (`--precision bf16`): on CPUs whose instruction set multiplies bf16
natively (AMX tiles, or AVX512_BF16) oneDNN's bf16 convolutions run several times faster than
fp32 (`darkpy benchmark` shows the gain), but confidences move by ~1e-3 and boxes near a
threshold come and go (issue 20). bf16 keeps fp32's range, so no scaling is needed; the
detection heads still run in fp32 (see `darkpy.net.inference`), which keeps boxes within a
fraction of a pixel of fp32's (tests/net/test_precision.py holds the guard).
"""
from __future__ import annotations

from functools import lru_cache

from darkpy.errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (Linux /proc/cpuinfo); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when this CPU multiplies bf16 in hardware (AMX or AVX512_BF16) and torch's oneDNN
    can use it."""
    flags = cpu_flags() if flags is None else flags
    if not any(f in flags for f in _BF16_FLAGS):
        return False
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # torch built without oneDNN
        return False


def cpu_summary() -> str:
    """One line naming the CPU and what matters for speed here (for benchmark output)."""
    import os

    flags = cpu_flags()
    has = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{cpu_model_name()}, {os.cpu_count()} cores, flags: {' '.join(has) or 'none of avx2/avx512/amx'}"


def resolve_precision(precision, device) -> "torch.dtype":
    """The torch dtype for a `--precision` value (or a torch dtype) on `device`."""
    import torch

    if isinstance(precision, torch.dtype):
        return precision
    text = "auto" if precision is None else str(precision).strip().lower()
    aliases = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}
    text = aliases.get(text, text)
    if text not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
    if text == "auto":
        dev = torch.device(device) if device is not None else torch.device("cpu")
        return torch.float16 if dev.type == "cuda" else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[text]


def precision_name(dtype) -> str:
    import torch

    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))


def strict_fp32(device) -> bool:
    """fp32 means fp32 on CUDA too: turn off TF32 (10-bit mantissa) in cuDNN convolutions and
    cuBLAS matmuls, which Ampere and newer GPUs otherwise use for float32 by default. Returns
    whether anything was set (only for a CUDA device). Process-wide, as torch's flags are."""
    import torch

    if torch.device(device).type != "cuda":
        return False
    conv = getattr(torch.backends.cudnn, "conv", None)
    matmul = torch.backends.cuda.matmul
    if conv is not None and hasattr(conv, "fp32_precision"):   # torch >= 2.9: the per-backend API
        conv.fp32_precision = "ieee"
        matmul.fp32_precision = "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = False
        matmul.allow_tf32 = False
    return True
