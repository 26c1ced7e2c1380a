"""Several processes training one network: DistributedDataParallel with Darknet's batch kept.

- `torchrun --nproc_per_node N -m darkpy train ...` sets RANK / WORLD_SIZE / LOCAL_RANK;
  `from_env()` picks them up.
- `darkpy train --gpus 0,1,2,3` (one process per GPU, NCCL) and `--ddp-cpu N` (N gloo processes
  on the CPU, for tests and machines without GPUs) start the processes themselves with `launch`.

The effective batch stays the cfg's `batch`: every rank takes `batch / world_size` images per step
(in mini-batches of at most the cfg's `batch / subdivisions`). The loss of each rank is the sum
over its images; DDP *averages* gradients over ranks, so the engine multiplies the loss by
`world_size` and the result is the gradient of the loss summed over all `batch` images, which is
what Darknet's update divides by `batch`.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from darkpy.train import elastic


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistInfo()


def from_env() -> DistInfo:
    """The process group torchrun (or `launch`) described in the environment; SINGLE when none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    backend = os.environ.get("DARKPY_DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    return DistInfo(rank, world, local, backend)


def init(info: DistInfo, timeout: float | None = None, device: torch.device | None = None) -> None:
    """Join the process group: this restart round's store and the collective timeout (seconds,
    `--dist-timeout`) come from `darkpy.train.elastic.group_options`; `device` (from
    `darkpy.train.placement.rank_device`, already made current) binds NCCL's communicator to this
    process's GPU."""
    if info.enabled and not dist.is_initialized():
        options = elastic.group_options(info.rank, info.world_size, timeout)
        if device is not None and device.type == "cuda":
            options["device_id"] = device
        try:
            dist.init_process_group(info.backend, rank=info.rank, world_size=info.world_size, **options)
        except Exception as exc:
            if not elastic.is_peer_failure(exc):
                raise
            raise elastic.joining_failed(info.rank, info.world_size, exc) from None


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    elastic.forget_store()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(local_rank: int, world: int, backend: str, port: int, fn: Callable, args: tuple,
            timeout: float | None = None, place: Callable[[DistInfo], torch.device] | None = None) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world),
                       "RANK": str(local_rank), "LOCAL_RANK": str(local_rank),
                       "DARKPY_DIST_BACKEND": backend})
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    info = from_env()
    init(info, timeout, device=place(info) if place is not None else None)   # the GPU is chosen before the group forms
    try:
        fn(info, *args)
    finally:
        shutdown()


def launch(fn: Callable[..., Any], nprocs: int, args: tuple = (), backend: str = "gloo",
           timeout: float | None = None, place: Callable[[DistInfo], torch.device] | None = None) -> None:
    """Run `fn(info, *args)` in `nprocs` new processes forming one process group (spawned, so
    `fn`, `args` and `place` must be picklable: module-level functions, partials of them and plain
    values). `place(info)` picks each process's device before the group forms
    (`darkpy.train.placement.rank_device`). Signals, errors and waiting: `darkpy.train.elastic.spawn`."""
    elastic.spawn(_worker, nprocs, (nprocs, backend, free_port(), fn, args, timeout, place))


class _Forward(nn.Module):
    """What DDP wraps: the network's forward, optionally returning detection-layer inputs."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, with_inputs: bool = False):
        if with_inputs:
            return self.net.forward_with_inputs(x)
        return self.net(x)


class NetProxy:
    """Handed to `Task.loss` in place of the network: calling it or `forward_with_inputs` runs
    through DDP (so gradients are synchronised); every other attribute is the network's."""

    def __init__(self, net: nn.Module, ddp: nn.Module | None):
        self._net = net
        self._ddp = ddp

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._ddp(x) if self._ddp is not None else self._net(x)

    def forward_with_inputs(self, x: torch.Tensor):
        return self._ddp(x, True) if self._ddp is not None else self._net.forward_with_inputs(x)

    def __getattr__(self, name: str):
        return getattr(self._net, name)


def wrap(net: nn.Module, info: DistInfo, device: torch.device) -> nn.Module | None:
    """DDP around the network's forward (None when running alone)."""
    if not info.enabled:
        return None
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(_Forward(net), device_ids=ids)  # buffers (BN rolling stats) follow rank 0


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum a few floats over all ranks (identity when running alone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def is_distributed() -> bool:
    """Whether this process is one of a process group (collectives needed)."""
    return dist.is_available() and dist.is_initialized()


def all_reduce_vector(t: torch.Tensor) -> list[float]:
    """Sum a float64 vector over all ranks and read it on the host (one copy)."""
    if is_distributed():
        dist.all_reduce(t)
    return t.tolist()
