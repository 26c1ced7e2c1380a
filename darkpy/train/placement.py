"""Which GPU each training process uses, decided once, before the process group forms.

Every process (a torchrun rank, a `--gpus` rank, a lone process) asks `rank_device` once. It
turns the user's `--device` / `--gpus` into one device, checks it against the machine and, for
a GPU, makes it the process's current CUDA device (`torch.cuda.set_device`) *before*
`init_process_group(..., device_id=...)`. Everything that later says just "cuda" then lands on
that GPU: NCCL's communicator, the DataLoader's pin-memory thread (torch pins on the current
device when the loader's iterator starts), cuDNN's workspace, DDP (`device_ids=[index]`). Without it every rank opened a context on GPU 0.

The rules:

- `--gpus a,b,c`: rank r (its local rank on this machine) trains on GPU `gpus[r]`; the list must
  have one GPU per process on the machine (`LOCAL_WORLD_SIZE` under torchrun), else an error;
- a bare `cuda` (or no `--device` when CUDA is available) under several processes: local rank r
  on `cuda:r`; when each process sees a single GPU (a scheduler that sets CUDA_VISIBLE_DEVICES
  per process), that one;
- `cuda:N` (or `N`) with several processes on a machine with several GPUs would put them all on
  one GPU: refused, with what to write instead;
- any index beyond `torch.cuda.device_count()`: one line naming it (not torch's "invalid device
  ordinal" traceback).
"""
from __future__ import annotations

import os
from typing import Sequence

import torch

from darkpy.device import check_gpu_index, select_device
from darkpy.errors import UsageError
from darkpy.train.distributed import DistInfo, SINGLE


def local_world_size(info: DistInfo) -> int:
    """Processes on this machine: torchrun's LOCAL_WORLD_SIZE, else the whole world (one machine)."""
    if not info.enabled:
        return 1
    return int(os.environ.get("LOCAL_WORLD_SIZE", info.world_size))


def rank_device(info: DistInfo = SINGLE, device: str | int | torch.device | None = None,
                gpus: Sequence[int] = ()) -> torch.device:
    """The device this process trains on (see the module doc); a GPU is also made current."""
    chosen = _choose(info, device, tuple(int(g) for g in gpus))
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    return chosen


def _choose(info: DistInfo, device, gpus: tuple[int, ...]) -> torch.device:
    if gpus:
        text = "" if device is None else str(device).strip().lower()
        if text not in ("", "auto", "cuda") and not text.startswith("cuda"):
            raise UsageError(f"--gpus {_list(gpus)} and --device {device} exclude each other")
        local = local_world_size(info)
        if info.enabled and len(gpus) != local:
            raise UsageError(f"--gpus {_list(gpus)} lists {len(gpus)} GPU(s) for {local} process(es) on this "
                             f"machine: list one GPU per process")
        check_gpus(gpus)
        return torch.device("cuda", gpus[info.local_rank if info.enabled else 0])
    if isinstance(device, torch.device):
        if device.type == "cuda" and device.index is not None:
            check_gpu_index(device.index, str(device))
        return _rank_index(info, device) if device.type == "cuda" and device.index is None else device
    resolved = select_device(device)
    if resolved.type != "cuda":
        return resolved
    if resolved.index is None:
        return _rank_index(info, resolved)
    if info.enabled and local_world_size(info) > 1 and torch.cuda.device_count() > 1:
        raise UsageError(f"--device {device} would put all {local_world_size(info)} processes on GPU "
                         f"{resolved.index}: use --device cuda (process r on GPU r) or --gpus")
    return resolved


def check_gpus(gpus: Sequence[int]) -> None:
    """Before starting one process per listed GPU: CUDA present, every index on this machine,
    no GPU listed twice."""
    if not torch.cuda.is_available():
        raise UsageError(f"--gpus {_list(gpus)}: CUDA is not available on this machine")
    for g in gpus:
        check_gpu_index(int(g), f"--gpus {_list(gpus)}")
    if len(set(gpus)) != len(gpus):
        raise UsageError(f"--gpus {_list(gpus)} lists a GPU twice: one process per GPU")


def _rank_index(info: DistInfo, device: torch.device) -> torch.device:
    """A bare `cuda`: this process's local rank, or the one GPU it sees."""
    count = torch.cuda.device_count()
    if count == 1:
        return torch.device("cuda", 0)
    r = info.local_rank if info.enabled else 0
    check_gpu_index(r, f"process {info.rank} (local rank {r}) on bare 'cuda'")
    return torch.device("cuda", r)


def _list(gpus: Sequence[int]) -> str:
    return ",".join(str(g) for g in gpus)
