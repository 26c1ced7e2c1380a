"""One rank of the DDP mAP-wait test (module level: spawned processes import it)."""
from __future__ import annotations

import os
import time
from datetime import timedelta
from types import SimpleNamespace

import torch
import torch.distributed as dist


def rank_main(rank: int, world: int, port: int, out: str, eval_seconds: float, group_timeout: float) -> None:
    from darkpy.train.distributed import DistInfo
    from darkpy.train.map_hook import MapHook

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=group_timeout))
    try:
        calls = []

        class SlowEvaluator:
            setup = SimpleNamespace(entries=["a.jpg"] * 10)

            def __call__(self, trainer):
                calls.append(trainer.iteration)
                time.sleep(eval_seconds)      # a validation longer than the group's timeout

        hook = MapHook(SlowEvaluator() if rank == 0 else None, every=1, images=10)
        trainer = SimpleNamespace(dist=DistInfo(rank, world, rank, "gloo"), is_main=rank == 0, iteration=4)
        t0 = time.perf_counter()
        hook.fn(trainer)
        waited = time.perf_counter() - t0
        t = torch.ones(1)
        dist.all_reduce(t)                    # the next training collective still works
        with open(os.path.join(out, f"rank{rank}.txt"), "w") as fh:
            fh.write(f"{len(calls)} {waited:.2f} {t.item():g}\n")
    finally:
        dist.destroy_process_group()
