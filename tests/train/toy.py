"""A task-agnostic toy task for engine tests: random images, a squared-error loss."""
from __future__ import annotations

import numpy as np
import torch

from darkpy.train.engine import StepReport


class ToyTask:
    """Image `slot` of batch `i` is the same whatever the rank split: seeded by (seed, i, slot)."""

    def setup(self, trainer):
        self.rank, self.per_rank, self.mini = trainer.rank, trainer.images_per_rank, trainer.mini_batch
        self.seed = trainer.seed

    def batches(self, size, iteration):
        w, h = size
        first = self.rank * self.per_rank
        for start in range(0, self.per_rank, self.mini):
            n = min(self.mini, self.per_rank - start)
            imgs = []
            for slot in range(first + start, first + start + n):
                rng = np.random.default_rng([self.seed, iteration, slot])
                imgs.append(rng.random((3, h, w), dtype=np.float32))
            x = torch.from_numpy(np.stack(imgs))
            yield x, x.mean(dim=1, keepdim=True)

    def loss(self, net, images, targets, seen):
        out = net(images)
        t = torch.nn.functional.avg_pool2d(targets, 2).expand_as(out)
        loss = 0.5 * ((out - t) ** 2).sum()
        d = (out - t).detach() ** 2
        return StepReport(loss, {"mse": float(d.mean())}, cost=float(d.sum()))


def ddp_rank(info, cfg: str, out: str, max_batches: int, seed: int = 3, stop_rank1_at: int | None = None):
    """One rank of the DDP test (module level: spawned processes import it). With
    `stop_rank1_at`, only rank 1 asks to stop (as when a signal reaches one process first)."""
    from darkpy.net.model import load_network
    from darkpy.train.engine import Hook, Trainer

    torch.set_num_threads(1)
    net = load_network(cfg, device="cpu", seed=0)
    hooks = []
    if stop_rank1_at is not None and info.rank == 1:
        hooks.append(Hook(1, lambda t: t.request_stop() if t.iteration == stop_rank1_at else None))
    tr = Trainer(net, ToyTask(), name="toy", backup_dir=out, device="cpu", max_batches=max_batches, ddp=info,
                 seed=seed, quiet=True, hooks=hooks)
    tr.run()
    if info.rank == 0 and stop_rank1_at is not None:
        assert tr.interrupted and tr.iteration == stop_rank1_at + 1, tr.iteration
