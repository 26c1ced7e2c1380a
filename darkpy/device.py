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
    return device
