"""Choosing where tensors live: CUDA when present, CPU otherwise, or what the user names."""
from __future__ import annotations

import torch

from darkpy.errors import UsageError


def select_device(spec: str | int | torch.device | None = None) -> torch.device:
    """Resolve `--device` values: None/'auto', 'cpu', 'cuda', 'cuda:1', '0', 1."""
    if isinstance(spec, torch.device):
        return spec
    if spec is None or spec == "" or spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    text = str(spec).strip().lower()
    if text.isdigit():
        text = f"cuda:{text}"
    try:
        device = torch.device(text)
    except RuntimeError as exc:
        raise UsageError(f"unknown device {spec!r} (use cpu, cuda, cuda:N or N)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {spec!r} asked for, but CUDA is not available on this machine")
    if device.type == "cuda" and device.index is not None:
        check_gpu_index(device.index, str(spec))
    return device


def check_gpu_index(index: int, asked: str) -> None:
    """One line instead of torch's "invalid device ordinal" traceback on the first tensor."""
    count = torch.cuda.device_count()
    if not 0 <= index < count:
        raise UsageError(f"{asked}: GPU {index} asked for, but this machine has {count} CUDA device(s)"
                         + (f" (0..{count - 1})" if count else ""))
