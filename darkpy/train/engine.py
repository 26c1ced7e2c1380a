"""The training engine: Darknet's batch loop, task-agnostic.

One *batch* (Darknet's "iteration") is `batch` images from the cfg, seen as `subdivisions`
forward/backward passes of `batch / subdivisions` images (a mini-batch) whose gradients add up;
then one optimiser step (Darknet SGD, see `darkpy.train.optimizer`) at the learning rate of
Darknet's schedule, and `net.seen += batch`. The batch number is `seen // batch`, so a network
loaded from a Darknet backup continues its schedule where it stopped.

Interface (agreed between detection and classification training)::

    @dataclass
    class StepReport:               # what a task's loss returns for one forward pass (one mini-batch)
        loss: torch.Tensor          # scalar; backward() gives the gradient of Darknet's loss SUMMED
                                    # over the mini-batch images
        stats: dict[str, float]     # shown in the progress line ({"iou": .., "recall": ..}, {"top1": ..})
        cost: float | None = None   # Darknet's printed cost for the pass (summed over its images);
                                    # defaults to the loss's value. Printed loss = sum of costs / batch.
        totals: dict[str, float]    # counts shown in the progress line SUMMED over the batch's
                                    # passes and ranks (stats are averaged), e.g. {"cls-only": 3}
        # stats, cost and totals may be floats or 0-dim tensors on the device; tensors stay there
        # and the engine copies them to the host once per batch, after the update, with its
        # all-reduce (`StepSums`, `read_sums`): a pass never waits for the GPU

    class Task(Protocol):
        def batches(self, size, iteration) -> Iterator[tuple[Tensor, Any]]:
            # the mini-batches (images N x C x H x W float, targets) of batch `iteration` for THIS
            # rank: `trainer.images_per_rank` images in chunks of at most `trainer.mini_batch`
        def loss(self, net, images, targets, seen) -> StepReport:
            # `net` is a proxy: net(x) / net.forward_with_inputs(x) run through DDP when
            # distributed; any other attribute is the Network's. `seen` = images seen after
            # this mini-batch (Darknet increments before the forward pass).
        # optional:
        def setup(self, trainer) -> None:   # once, before the first batch (rank, world_size,
                                            # seed, images_per_rank, mini_batch, size_for, device)
        def close(self) -> None:            # at the end (stop data workers)

    Trainer(net, task, *, name, backup_dir, device, max_batches=None, clear=False, resume=False,
            amp=False, hooks=(), ddp=None, seed=0, ...).run()

Hooks (`darkpy.train.hooks`: `Hook(every, fn, when="before"|"after")`) run every N batches:
`before` ones before the batch is drawn (the multi-scale resize), `after` ones after the update
(progress line, chart, the caller's hooks such as mAP, then backups). `fn(trainer)` sees
`trainer.iteration` (after: the new batch number), `trainer.last` (the batch's loss, stats,
timings). `Trainer.state_dict()` holds the optimiser, RNGs, running loss and every hook's state;
it is saved with NAME.backup as one checkpoint (`darkpy.train.backup.write_checkpoint`).

A backup, snapshot or final write that fails (read-only folder, full disk) never stops training
and never loses it silently: one line names the path and the OS error, the weights stay in
memory, the next backup point tries again, and the final weights go to a fallback folder when
the backup folder refuses them (or the run exits with code 2 naming the last good backup).

Multi-scale (`random=1` on the last region/yolo layer): every 10 batches a new square size,
Darknet's `(rand() % 10 + 10) * 32`, i.e. 320..608 in steps of 32 whatever the cfg's own size
(PJ's `train_detector`; the YOLOv2 paper's {320, 352, ..., 608}), and 608 for the batches in the
last 200. The size is a pure function of (seed, batch number),
`trainer.size_for(i)`, so data workers compute the same size for every request they serve
(nothing to share at run time) and a resumed run uses the same sizes as an uninterrupted one.
"""
from __future__ import annotations

import gc
import math
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, runtime_checkable

import numpy as np
import torch

from darkpy.errors import UsageError
from darkpy.net import precision
from darkpy.net.model import check_batch_fits
from darkpy.train import backup as bk
from darkpy.train import distributed as dd
from darkpy.train import elastic
from darkpy.heap import keep_freed_memory
from darkpy.train.hooks import Hook, default_hooks
from darkpy.train.optimizer import current_rate, images_per_step, make_optimizer
from darkpy.train.placement import rank_device
from darkpy.charts import Chart
from darkpy.fileio import atomic_write


@dataclass
class StepReport:
    loss: torch.Tensor
    stats: dict[str, Any] = field(default_factory=dict)     # floats or 0-dim device tensors
    cost: Any = None                                        # float, 0-dim device tensor or None
    totals: dict[str, Any] = field(default_factory=dict)  # summed over passes and ranks, not averaged


@runtime_checkable
class Task(Protocol):
    def batches(self, size: tuple[int, int] | None, iteration: int) -> Iterator[tuple[torch.Tensor, Any]]: ...

    def loss(self, net, images: torch.Tensor, targets: Any, seen: int) -> StepReport: ...


@dataclass
class BatchResult:
    iteration: int           # batch number after the update
    loss: float              # Darknet's printed loss: summed cost / batch images
    avg_loss: float
    rate: float
    seen: int
    stats: dict[str, float]
    size: tuple[int, int] | None
    step_time: float         # seconds for the whole batch (data wait included)
    data_wait: float         # seconds spent waiting for mini-batches
    images: int              # images in the batch (all ranks)


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into the same path as Ctrl-C: save a backup, then stop."""


# -- multi-scale ---------------------------------------------------------------------------

MULTISCALE_EVERY = 10
MULTISCALE_LAST = 200


MULTISCALE_SIZES = tuple(range(320, 608 + 1, 32))   # Darknet's (rand() % 10 + 10) * 32


def multiscale_size(base: tuple[int, int], iteration: int, max_batches: int, seed: int) -> tuple[int, int]:
    """Darknet's random resize for the block of 10 batches holding `iteration` (see module doc).

    `base` (the cfg's size) does not enter: Darknet draws from the same sizes for every cfg, so a
    608 cfg trains at 320..608 as a 416 one does, and both end at 608."""
    start = (iteration // MULTISCALE_EVERY) * MULTISCALE_EVERY
    k = int(np.random.default_rng([seed, 15485863, start]).integers(0, len(MULTISCALE_SIZES)))
    if start + MULTISCALE_LAST > max_batches:
        k = len(MULTISCALE_SIZES) - 1
    side = MULTISCALE_SIZES[k]
    return side, side


# -- the trainer -----------------------------------------------------------------------------



def amp_dtype(device: torch.device) -> torch.dtype | None:
    """What `--amp` autocasts to: fp16 on CUDA (with loss scaling), bf16 on CPUs that multiply it
    natively (AMX, AVX512_BF16; no scaling needed), None (float32) elsewhere."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if precision.cpu_has_native_bf16() else None
    return None

class Trainer:
    def __init__(self, net, task: Task, *, name: str, backup_dir: str | Path, device=None,
                 max_batches: int | None = None, clear: bool = False, resume: bool = False, amp: bool = False,
                 hooks: Iterable[Hook] = (), ddp: dd.DistInfo | None = None, seed: int = 0,
                 log_every: int = 1, chart_every: int = 100, console=None, quiet: bool = False,
                 multiscale: bool | None = None, backups: bool = True, chart_name: str = "chart.png",
                 backup_every: int | None = None):
        self.net = net
        self.task = task
        self.name = name
        self.chart_name = chart_name  # chart_NAME.png for a run given its own --name
        self.backup_dir = Path(backup_dir)
        self.dist = ddp or dd.SINGLE
        self.device = rank_device(self.dist, device)   # bare cuda = cuda:{local_rank}, made current
        self.max_batches = int(max_batches if max_batches is not None else net.net.max_batches)
        self.clear, self.resume = clear, resume
        self.amp_dtype = amp_dtype(self.device) if amp else None
        self.amp = self.amp_dtype is not None
        self.amp_requested = bool(amp)
        self.seed = int(seed)
        backup_every = bk.BACKUP_EVERY if backup_every is None else int(backup_every)
        if backup_every < 1:
            raise UsageError(f"--backup-every must be at least 1, got {backup_every}")
        self.backup_every = backup_every
        first, last = default_hooks(log_every=log_every, chart_every=chart_every, backups=backups,
                                    backup_every=self.backup_every)
        self.hooks: list[Hook] = first + list(hooks) + last
        names = [h.name for h in self.hooks if h.name]
        dup = {n for n in names if names.count(n) > 1}
        for h in self.hooks:  # unnamed or same-named hooks get distinct state keys
            if not h.name or h.name in dup:
                h.name = f"{h.name or 'hook'}{self.hooks.index(h)}"
        self.log_every, self.chart_every = log_every, chart_every
        self.last_good_backup: tuple[Path, int] | None = None
        self.final_written: Path | None = None      # where NAME_final.weights really went
        self.write_failures: list[str] = []
        self.quiet = quiet
        self.backups = backups
        self._console = console
        self.avg_loss = -1.0
        self.history: list[tuple[int, float, float]] = []   # (batch, loss, avg loss) for the chart
        self.last: BatchResult | None = None
        self.data_wait_total = 0.0
        self.step_time_total = 0.0
        self.images_total = 0
        self.stop_requested = False
        self.skipped_steps = 0   # fp16 batches whose update GradScaler skipped (inf/NaN gradients)
        self._unfinished = None
        self.warnings: set[str] = set()
        self.images_per_step = images_per_step(net.net)
        if self.images_per_step % self.dist.world_size:
            raise UsageError(f"batch={self.images_per_step} cannot be split over {self.dist.world_size} processes: "
                             f"use a batch divisible by the number of processes")
        self.images_per_rank = self.images_per_step // self.dist.world_size
        self.mini_batch = min(net.net.mini_batch, self.images_per_rank)
        check_batch_fits(net, self.mini_batch)
        det = getattr(net, "detection_layers", [])
        random_flag = bool(getattr(det[-1], "random", False)) if det else False
        self.multiscale = random_flag if multiscale is None else bool(multiscale)
        self.base_size = (net.net.width, net.net.height)

    # -- helpers ---------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self.dist.rank

    @property
    def world_size(self) -> int:
        return self.dist.world_size

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    @property
    def iteration(self) -> int:
        """Darknet's `get_current_batch`: optimiser steps taken so far."""
        return self.net.seen // self.images_per_step

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=False, highlight=False)
        return self._console

    def say(self, text: str) -> None:
        """A line for the user (header, saved files, mAP): printed even with quiet, which only drops the
        per-batch progress lines."""
        if self.is_main:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def warn_once(self, text: str, key: str | None = None) -> None:
        """Print a warning the first time its key (default: the text) comes up."""
        key = text if key is None else key
        if key not in self.warnings:
            self.warnings.add(key)
            if self.is_main:
                from rich.markup import escape

                self.console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)

    def size_for(self, iteration: int) -> tuple[int, int] | None:
        if not self.multiscale:
            return self.base_size
        return multiscale_size(self.base_size, iteration, self.max_batches, self.seed)

    @property
    def data_wait_share(self) -> float:
        return self.data_wait_total / self.step_time_total if self.step_time_total else 0.0

    @property
    def steady_wait_share(self) -> float | None:
        """The data-wait share after the run's first batch (which waits for the loader processes
        to start), or None after a single batch."""
        rest = self.step_time_total - getattr(self, "first_time", 0.0)
        if rest <= 0 or not hasattr(self, "first_time"):
            return None
        return (self.data_wait_total - self.first_wait) / rest

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "seen": int(self.net.seen),
            "seed": self.seed,
            "avg_loss": float(self.avg_loss),
            "history": [list(map(float, h)) for h in self.history],
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": self._device_rng_state(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "hooks": {h.name: h.state_dict() for h in self.hooks},
            "run_id": elastic.run_id(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.avg_loss = float(state.get("avg_loss", -1.0))
        self.history = [(int(h[0]), float(h[1]), float(h[2])) for h in state.get("history", [])]
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        self._restore_device_rng(state.get("cuda_rng"))
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        saved = state.get("hooks", {}) or {}
        for h in self.hooks:
            if h.name in saved:
                h.load_state_dict(saved[h.name])

    def _device_rng_state(self):
        """The RNG state of the one GPU this process trains on (None on the CPU): a backup must
        not depend on how many GPUs the machine that wrote it had."""
        if self.device.type != "cuda":
            return None
        return torch.cuda.get_rng_state(self.device)

    def _restore_device_rng(self, saved) -> None:
        """Put the saved GPU RNG state back on this process's GPU, whatever GPU (or how many) the
        run that saved it had. Older backups hold a list (every GPU of that machine): the entry
        of this process's local rank is taken when there is one."""
        if self.device.type != "cuda" or saved is None:
            return
        if isinstance(saved, (list, tuple)):
            if not saved:
                return
            saved = saved[min(self.dist.local_rank, len(saved) - 1)]
        torch.cuda.set_rng_state(saved, self.device)

    def _write(self, path: Path, fn, next_try: str = "") -> bool:
        """Run a write; on an OS error print one line (path, error) and carry on."""
        try:
            fn()
            return True
        except OSError as exc:
            why = exc.strerror or str(exc)
            line = f"cannot write {path}: {why}; the weights stay in memory" + (f", {next_try}" if next_try else "")
            self.write_failures.append(line)
            if self.is_main:
                from rich.markup import escape

                self.console.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            return False

    def rescue_dir(self) -> Path:
        """Where weights go when the backup folder refuses them."""
        return Path(tempfile.gettempdir()) / f"darkpy-rescue-{self.name}"

    def save_backup(self, *, snapshot: bool = False, final: bool = False, rescue: bool = False) -> list[Path]:
        """NAME.backup with its state (one checkpoint), and NAME_i.weights / NAME_final.weights.
        Returns what was written; a failed write is reported (see the module doc), not raised."""
        if not self.is_main:
            return []
        written = []
        i = self.iteration
        if final:
            path = bk.final_path(self.backup_dir, self.name)
            if self._write(path, lambda: self.net.save_weights(path), "trying a fallback folder"):
                self.final_written = path
                return [path]
            alt = bk.final_path(self.rescue_dir(), self.name)
            if self._write(alt, lambda: self.net.save_weights(alt)):
                self.say(f"Final weights written to {alt} instead of {path}")
                self.final_written = alt  # the "Saved" line names the file that exists
                return [alt]
            last = self.last_good_backup
            raise UsageError(f"could not write the final weights to {path} nor {alt}; "
                             + (f"the last good backup is {last[0]} (batch {last[1]})" if last
                                else "no backup was written in this run"))
        path = bk.backup_path(self.backup_dir, self.name)
        nxt = f"next try at batch {(i // self.backup_every + 1) * self.backup_every}" if not rescue else "trying a fallback folder"
        if self._write(path, lambda: bk.write_checkpoint(self.backup_dir, self.name, self.net.save_weights,
                                                         self.state_dict()), nxt):
            written.append(path)
            self.last_good_backup = (path, i)
        elif rescue:
            folder = self.rescue_dir()
            alt = bk.backup_path(folder, self.name)
            if self._write(alt, lambda: bk.write_checkpoint(folder, self.name, self.net.save_weights,
                                                            self.state_dict())):
                self.say(f"Backup written to {alt} instead (continue with --resume --backup {folder})")
                written.append(alt)
                self.last_good_backup = (alt, i)
        if snapshot:
            written += self.save_snapshot(i)
        return written

    def save_snapshot(self, i: int) -> list[Path]:
        if not self.is_main:
            return []
        path = bk.snapshot_path(self.backup_dir, self.name, i)
        return [path] if self._write(path, lambda: self.net.save_weights(path)) else []

    def _restore(self) -> None:
        """--resume, or a torchrun restart (see `darkpy.train.elastic`): rank 0 reads the backup
        and every rank gets its bytes, so only rank 0 needs the folder."""
        mode, found = elastic.shared_backup(self.backup_dir, self.name, self.resume, self.dist, self.device)
        path = bk.backup_path(self.backup_dir, self.name)
        if mode == "auto" and found is not None and not elastic.from_this_job(found):
            found.discard()
            self.say(f"Restarted by torchrun: {path} is not from this run "
                     f"(use --resume to continue from it); starting from the beginning")
            return
        if found is None:
            if mode == "yes":
                raise UsageError(f"--resume: no backup to resume from ({path} does not exist)")
            if mode == "auto":
                self.say(f"Restarted by torchrun: no backup yet in "
                         f"{self.backup_dir}, starting from the beginning")
            return
        self.net.to("cpu")
        try:
            report = self.net.load_weights(found.weights)
        finally:
            found.discard()
        if mode == "auto":
            self.say("Restarted by torchrun: resuming by itself")
        self.say(f"Resuming from {str(report).replace(str(found.weights), str(found.origin))}")
        self.last_good_backup = (found.origin, self.iteration)
        state, why = found.state, found.why
        if state is not None and int(state.get("seen", -1)) != int(self.net.seen):
            state, why = None, (f"{bk.state_path(self.backup_dir, self.name)} is from seen={state.get('seen')}, "
                                f"the backup from seen={self.net.seen}: ignoring it (momentum restarts from zero)")
        if state is None:
            self.warn_once(why)
        else:
            self._pending_state = state

    # -- running ---------------------------------------------------------------------------
    def _setup(self) -> None:
        torch.manual_seed(self.seed + self.rank)
        self._pending_state = None
        if self.resume or self.dist.enabled or elastic.restarted():
            self._restore()   # distributed: always, rank 0 decides (see darkpy.train.elastic)
        if self.clear:
            self.net.seen = 0
        if self.device.type == "cpu":
            keep_freed_memory()   # each step reuses the last one's memory (darkpy.heap)
        self.net.to(self.device)
        # NHWC activations and weights: oneDNN's native layout on CPUs (measured on yolov2-tiny at
        # 288, batch 16: 10-15% less CPU per step at fp32 and bf16), tensor cores' on CUDA
        self.channels_last = self.device.type == "cpu" or self.amp
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.net.train()
        self.ddp_module = dd.wrap(self.net, self.dist, self.device)
        self.proxy = dd.NetProxy(self.net, self.ddp_module)
        self.optimizer = make_optimizer(self.net, self.net.net)
        # fp16 needs loss scaling; bf16 has float32's range and does not
        self.scaler = make_scaler(self.device, self.net.net) if self.amp_dtype == torch.float16 else None
        if not self.amp:
            precision.strict_fp32(self.device)   # float32 training is float32 on the GPU too (no TF32)
        for hook in self.hooks:
            hook.attach(self)
        if self._pending_state is not None:
            self.load_state_dict(self._pending_state)
        if self.amp_requested and not self.amp:
            self.warn_once("--amp needs CUDA or a CPU with AMX/AVX512_BF16; training in float32")
        self.start_iteration = self.iteration
        self.t_start = time.perf_counter()
        setup = getattr(self.task, "setup", None)
        if setup is not None:
            setup(self)

    def _run_hooks(self, when: str, i: int, end: bool = False) -> None:
        for hook in self.hooks:
            if hook.when == when and (hook.at_end if end else hook.due(i)):
                hook.fn(self)

    def _step(self) -> BatchResult:
        i = self.iteration
        self._run_hooks("before", i)
        size = self.size_for(i)
        t0 = time.perf_counter()
        wait = 0.0
        seen0 = self.net.seen
        self._unfinished = seen0  # `seen` before the batch now running (None between batches)
        images, passes = 0, 0
        # the pass's numbers stay where the task computed them (device tensors or host floats)
        # and are read once, after the update, with the all-reduce: nothing in the passes waits
        # for the GPU
        cost_sum, stats_sum, totals_sum = StepSums(), StepSums(), StepSums()
        source = iter(self.task.batches(size, i))

        def fetch():
            nonlocal wait
            tw = time.perf_counter()
            try:
                item = next(source)
            except StopIteration:
                item = None
            wait += time.perf_counter() - tw
            return item

        item = fetch()
        while item is not None:
            images_t, targets = item
            nxt = fetch()   # one ahead: DDP synchronises gradients on the last pass only
            n = int(images_t.shape[0])
            images_t = images_t.to(self.device, non_blocking=True,
                                   memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
            seen_now = seen0 + (images + n) * self.world_size
            sync = self.ddp_module is None or nxt is None
            ctx = self.ddp_module.no_sync() if not sync else _null()
            with ctx:
                with (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp else _null()):
                    report = self.task.loss(self.proxy, images_t, targets, seen_now)
                loss = report.loss.float() * self.world_size
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
            cost_sum.add("cost", report.cost if report.cost is not None else report.loss.detach())
            for k, v in report.stats.items():
                stats_sum.add(k, v)
            for k, v in report.totals.items():
                totals_sum.add(k, v)
            images += n
            passes += 1
            item = nxt
        if images == 0:
            raise RuntimeError(f"the task gave no images for batch {i}")
        self.net.seen = seen0 + self.images_per_step
        rate = current_rate(self.net.net, self.iteration, self.seed)
        self.optimizer.set_rate(rate)
        skipped = 0.0
        if self.scaler is not None:
            scale = self.scaler._scale.detach().clone() if self.scaler._scale is not None else None
            self.scaler.step(self.optimizer)   # skips the update when a gradient is inf/NaN
            self.scaler.update()               # ... and then halves the scale
            if scale is not None:
                skipped = (self.scaler._scale < scale).to(torch.float64)
        else:
            self.optimizer.step()
        self._unfinished = None
        self.optimizer.zero_grad(set_to_none=True)
        keys = list(stats_sum.keys())   # the task's order (the same in every process)
        tkeys = sorted(totals_sum.keys())
        # the stop flags travel with the statistics: when one process is asked to stop (SIGTERM
        # reaches ranks at slightly different times) every process stops after the same batch
        flags = [float(self.stop_requested), float(getattr(self, "_signal_stop", False))]
        reduced = read_sums([cost_sum.get("cost"), float(passes)] + [stats_sum.get(k) for k in keys]
                            + [totals_sum.get(k) for k in tkeys] + [skipped] + flags, self.device)
        if reduced[-3] > 0:
            self.skipped_steps += 1
            self.warn_once("fp16 gradients overflowed: the update of that batch was skipped and the loss scale "
                           "halved (the progress line counts skipped batches)", key="fp16-skip")
        self._stop_agreed = reduced[-2] > 0
        if reduced[-1] > 0:
            self._signal_stop = True
        loss_value = reduced[0] / self.images_per_step
        stats = {k: reduced[2 + j] / max(1.0, reduced[1]) for j, k in enumerate(keys)}
        stats.update({k: reduced[2 + len(keys) + j] for j, k in enumerate(tkeys)})
        if self.avg_loss < 0:
            self.avg_loss = loss_value
        self.avg_loss = self.avg_loss * 0.9 + loss_value * 0.1
        elapsed = time.perf_counter() - t0
        if self.step_time_total == 0.0:   # the run's first batch also starts the loader processes
            self.first_wait, self.first_time = wait, elapsed
        self.data_wait_total += wait
        self.step_time_total += elapsed
        self.images_total += self.images_per_step
        it = self.iteration
        self.history.append((it, loss_value, self.avg_loss))
        self.last = BatchResult(it, loss_value, self.avg_loss, rate, self.net.seen, stats, size, elapsed, wait,
                                self.images_per_step)
        return self.last

    def _after(self, r: BatchResult) -> None:
        self._run_hooks("after", r.iteration)

    def progress_line(self, r: BatchResult) -> str:
        done = max(1, r.iteration - self.start_iteration)
        per_batch = (time.perf_counter() - self.t_start) / done
        eta = max(0, self.max_batches - r.iteration) * per_batch
        ips = r.images / r.step_time if r.step_time > 0 else 0.0
        size = f", {r.size[0]}x{r.size[1]}" if r.size is not None and self.multiscale else ""
        stats = "  ".join(f"{k} {v:.4g}" for k, v in r.stats.items())
        return (f"{r.iteration}: {r.loss:.6f}, {r.avg_loss:.6f} avg, {r.rate:g} rate, {r.step_time:.3f} s, "
                f"{r.seen} images, {ips:.1f} img/s, data {r.data_wait / max(r.step_time, 1e-9):.0%}{size}, "
                f"ETA {_hms(eta)}" + (f", {self.skipped_steps} fp16 skipped" if self.skipped_steps else "")
                + (f" | {stats}" if stats else ""))

    def save_chart(self) -> Path | None:
        """chart.png: loss and average loss, and under them the tiles hooks add (mAP)."""
        if not self.is_main:
            return None

        xlim = (0, max([h[0] for h in self.history[-1:]] + [self.iteration, 1]))
        tiles = [t for t in (h.chart_tile(self, xlim) for h in self.hooks) if t is not None]
        if not self.history and not tiles:
            return None
        path = self.backup_dir / self.chart_name
        try:
            if tiles:
                images = []
                if self.history:
                    xs = [h[0] for h in self.history]
                    loss = Chart(f"{self.name}: training loss", "batch", "loss", size=(800, 420), xlim=xlim,
                                 integer_x=True)
                    loss.add(xs, [h[1] for h in self.history], "loss")
                    loss.add(xs, [h[2] for h in self.history], "avg loss")
                    images.append(loss.render())
                images += tiles
                width = images[0].shape[1]
                img = np.vstack([t for t in images if t.shape[1] == width])
                import cv2

                ok, buf = cv2.imencode(".png", img)
                with atomic_write(path, "wb") as fh:
                    fh.write(buf.tobytes())
            else:
                xs = [h[0] for h in self.history]
                chart = Chart(f"{self.name}: training loss", "batch", "loss", integer_x=True)
                chart.add(xs, [h[1] for h in self.history], "loss")
                chart.add(xs, [h[2] for h in self.history], "avg loss")
                chart.save(path)
        except Exception as exc:  # a chart must never stop training
            self.warn_once(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}")
            return None
        return path

    def run(self) -> "Trainer":
        lock = None
        if self.is_main and self.backups:
            bk.prepare_folder(self.backup_dir)
            lock = bk.FolderLock(self.backup_dir).acquire()
        try:
            return self._run_locked()
        finally:
            self._release_group()
            if lock is not None:
                lock.release()

    def _release_group(self) -> None:
        """Drop what holds the process group (the DDP wrapper, hooks' own groups) as soon as the
        run ends. DDP's reducer keeps the group and gloo's finished work alive; left to the
        interpreter's exit they are torn down after Python is half gone, and a rank can abort in a
        C++ destructor ("terminate called without an active exception", seen once on a 2-core CI
        run) after training finished cleanly."""
        if not self.dist.enabled:
            return
        self.ddp_module = None
        if hasattr(self, "proxy"):
            self.proxy = dd.NetProxy(self.net, None)
        for hook in self.hooks:
            release = getattr(hook, "release", None)
            if release is not None:
                release()
        gc.collect()

    def _run_locked(self) -> "Trainer":
        if self.is_main and self.backups:
            for stale in bk.remove_stale_temporaries(self.backup_dir, self.name):
                self.say(f"Removed {stale}, left by a run that was killed while writing")
        self._setup()
        nn_ = self.net.net
        self.say(f"Learning Rate: {nn_.learning_rate:g}, Momentum: {nn_.momentum:g}, Decay: {nn_.decay:g}; "
                 f"batch {self.images_per_step} = {self.world_size} process(es) x {self.images_per_rank} images "
                 f"in mini-batches of {self.mini_batch}; batches {self.start_iteration}..{self.max_batches}"
                 f" on {self.device}")
        self.interrupted = False
        if self.start_iteration >= self.max_batches:
            self._nothing_to_train()
        old = _install_signals(self)
        try:
            while self.iteration < self.max_batches and not self._should_stop():
                r = self._step()
                self._after(r)
        except KeyboardInterrupt:
            # a second Ctrl-C (or an interrupt outside a batch boundary): save what there is
            self.interrupted = True
            unfinished = getattr(self, "_unfinished", None)
            where = f"after batch {self.iteration}"
            if unfinished is not None:  # the batch did not finish: the weights are the previous batch's
                self.net.seen = unfinished
                where = f"inside batch {self.iteration + 1}"
            if self.backups and hasattr(self, "optimizer"):
                self.optimizer.zero_grad(set_to_none=True)
                written = self.save_backup(rescue=True)
                if written:
                    self.say(f"Interrupted {where}: saved {written[0]} (the weights after batch "
                             f"{self.iteration})")
            raise
        finally:
            _restore_signals(old)
            close = getattr(self.task, "close", None)
            if close is not None:
                close()
        if self._should_stop():
            self.interrupted = True
            if self.backups:
                written = self.save_backup(rescue=True)
                self.save_chart()
                if written:
                    self.say(f"Stopped at batch {self.iteration}: saved {written[0]} (continue with --resume)")
            if self._signal_stop:
                raise Interrupted()
            return self
        if self.backups and self.iteration > self.start_iteration:  # never a copy of the input as _final
            self.save_backup(final=True)
            self.save_chart()
        self._run_hooks("after", self.iteration, end=True)
        return self

    def _nothing_to_train(self) -> None:
        """A trained file as the starting point: its `seen` already covers max_batches, so the loop
        would run zero batches and NAME_final.weights would become a copy of the input."""
        close = getattr(self.task, "close", None)
        if close is not None:
            close()
        raise UsageError(f"the weights have seen {self.net.seen} images = batch {self.start_iteration}, already at "
                         f"max_batches={self.max_batches}: nothing to train. To fine-tune from them, add --clear "
                         f"(restarts the schedule at batch 0, as Darknet's -clear), or raise --max-batches")

    def _should_stop(self) -> bool:
        # distributed: only the flag every rank agreed on in the last batch's reduction, so all
        # ranks leave the loop after the same batch
        return getattr(self, "_stop_agreed", False) if self.dist.enabled else self.stop_requested

    def request_stop(self) -> None:
        """Finish the current batch, save a backup (with its state side file) and stop."""
        self.stop_requested = True


def make_scaler(device: torch.device, cfg) -> "torch.amp.GradScaler":
    """fp16 loss scaling that starts at Darknet's loss scale (AlexeyAB's `loss_scale=` in [net],
    1 when absent) rather than torch's 65536: Darknet's loss is summed over the images, so its
    gradients are already large (up to ~3e5 on the demo net) and a 65536 start would skip the
    first ~19 updates while the schedule advanced."""
    return torch.amp.GradScaler(device.type, init_scale=float(getattr(cfg, "loss_scale", 1.0) or 1.0))


class StepSums:
    """Sums of one step's per-pass numbers, kept where they were computed: tensors stay on the
    device (added there, no wait), plain numbers on the host."""

    def __init__(self):
        self._values: dict[str, Any] = {}

    def add(self, key: str, value) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().reshape(()).to(torch.float64)
        else:
            value = float(value)
        old = self._values.get(key)
        self._values[key] = value if old is None else old + value

    def keys(self) -> list[str]:
        return list(self._values)

    def get(self, key: str):
        return self._values.get(key, 0.0)


def read_sums(values: list, device: torch.device) -> list[float]:
    """The step's numbers as floats, summed over ranks: the device ones are stacked and copied
    to the host ONCE (through the all-reduce when distributed); host numbers join them there."""
    on_device = [i for i, v in enumerate(values) if isinstance(v, torch.Tensor)]
    out = [0.0 if isinstance(v, torch.Tensor) else float(v) for v in values]
    if dd.is_distributed():
        vec = torch.tensor(out, dtype=torch.float64, device=device)
        if on_device:
            vec[on_device] += torch.stack([values[i].to(device) for i in on_device])
        return dd.all_reduce_vector(vec)
    if on_device:
        for i, v in zip(on_device, torch.stack([values[i] for i in on_device]).tolist()):   # the one copy
            out[i] = v
    return out


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _install_signals(trainer: "Trainer"):
    """Ctrl-C / SIGTERM: finish the batch, save, stop (a second one stops at once)."""
    import threading

    trainer._signal_stop = False
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if trainer.stop_requested:
            raise Interrupted()
        trainer.stop_requested = True
        trainer._signal_stop = True
        # inside a batch: that batch finishes; between batches (hooks, backups): none more runs
        last = trainer.iteration + (1 if getattr(trainer, "_unfinished", None) is not None else 0)
        trainer.say(f"Stopping after batch {last} (again to stop at once)")

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            saved[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
    return saved


def _restore_signals(saved) -> None:
    for sig, old in (saved or {}).items():
        try:
            signal.signal(sig, old)
        except (ValueError, OSError):
            pass


__all__ = ["StepReport", "Task", "Hook", "Trainer", "BatchResult", "Interrupted", "multiscale_size", "StepSums",
           "read_sums", "make_scaler"]
