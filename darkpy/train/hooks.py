"""Work the training engine runs between batches, as hooks (in the style of lightnet's engine).

A hook is scheduled every `every` batches, `before` a batch is drawn (the input size changes)
or `after` the update (backups, the progress line, the chart, mAP). Each hook may keep state
that a resumed run needs (the best mAP so far, ...): `state_dict()` / `load_state_dict()`. The
trainer's own `state_dict()` holds every hook's state under its `name`, and that one dictionary
is saved with the backup weights as one unit (`darkpy.train.backup.write_checkpoint`), so a
resume never mixes the state of one checkpoint with the weights of another and no hook keeps a
file of its own to read back.

The engine installs the built-in hooks itself (`default_hooks`); commands add theirs with
`Trainer(..., hooks=[...])`. A plain function works too: `Hook(every, fn)`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from darkpy.train import backup as bk

if TYPE_CHECKING:
    from darkpy.train.engine import Trainer


class Hook:
    """Run `fn(trainer)` (or the subclass's `__call__`) every `every` batches.

    `when`: "before" the batch is drawn, or "after" the update (then `trainer.iteration` is the
    new batch number and `trainer.last` the batch's result). `at_end`: also once after the last
    batch (after-hooks). `name` keys the hook's state in the trainer's state dict.
    """

    def __init__(self, every: int = 1, fn: Callable[["Trainer"], None] | None = None, when: str = "after",
                 name: str = "", at_end: bool = False):
        if when not in ("before", "after"):
            raise ValueError(f"a hook runs 'before' or 'after' a batch, not {when!r}")
        self.every = int(every)
        self.fn = fn if fn is not None else self.__call__
        self.when = when
        self.name = name or type(self).__name__.lower()
        self.at_end = at_end

    def due(self, i: int) -> bool:
        return self.every > 0 and i % self.every == 0

    def __call__(self, trainer: "Trainer") -> None:  # overridden by hook classes
        pass

    def attach(self, trainer: "Trainer") -> None:
        """Once, when the trainer starts (before a resumed state is loaded)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def chart_tile(self, trainer: "Trainer", xlim):
        """An image (H x W x 3 uint8) to draw under the loss curve in chart.png, or None."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.every}, when={self.when!r}, name={self.name!r})"


class MultiScaleHook(Hook):
    """Darknet's random resize: before each batch, set the network to `trainer.size_for(i)`.

    The size itself is a pure function of (seed, batch number) so that data workers compute it
    too; this hook only resizes the network."""

    def __init__(self):
        super().__init__(1, when="before", name="multiscale")

    def __call__(self, trainer: "Trainer") -> None:
        size = trainer.size_for(trainer.iteration)
        net = trainer.net
        if size is not None and hasattr(net, "resize") and (net.net.width, net.net.height) != tuple(size):
            net.resize(*size)


class BackupHook(Hook):
    """Darknet's backups: NAME.backup (with its state) every 100 batches (`backup_every`; Darknet's
    is fixed), NAME_i.weights snapshots on Darknet's schedule."""

    def __init__(self, backup_every: int | None = None):
        super().__init__(1, name="backup")
        self.backup_every = backup_every   # None: backup.BACKUP_EVERY

    def __call__(self, trainer: "Trainer") -> None:
        i = trainer.iteration
        if bk.wants_backup(i, self.backup_every):
            trainer.save_backup(snapshot=bk.wants_snapshot(i))
        elif bk.wants_snapshot(i):
            trainer.save_snapshot(i)


class ProgressHook(Hook):
    """Darknet's progress line every `every` batches and after the last one."""

    def __init__(self, every: int):
        super().__init__(every, name="progress")

    def due(self, i: int) -> bool:
        return self.every > 0 and (i % self.every == 0 or i == getattr(self, "_last", -1))

    def attach(self, trainer: "Trainer") -> None:
        self._last = trainer.max_batches

    def __call__(self, trainer: "Trainer") -> None:
        if trainer.last is not None and not trainer.quiet:   # -q drops only these per-batch lines
            trainer.say(trainer.progress_line(trainer.last))


class ChartHook(Hook):
    """chart.png (loss, avg loss, and the tiles other hooks add) every `every` batches."""

    def __init__(self, every: int):
        super().__init__(every, name="chart")

    def __call__(self, trainer: "Trainer") -> None:
        trainer.save_chart()


def default_hooks(*, log_every: int, chart_every: int, backups: bool,
                  backup_every: int | None = None) -> tuple[list[Hook], list[Hook]]:
    """The engine's own hooks: (run before the caller's after-hooks, run after them).

    The backup runs last so that the state it saves includes what the other hooks did at that
    batch (a mAP point, the best weights)."""
    first: list[Hook] = [MultiScaleHook()]
    if log_every:
        first.append(ProgressHook(log_every))
    if chart_every:
        first.append(ChartHook(chart_every))
    last: list[Hook] = [BackupHook(backup_every)] if backups else []
    return first, last


__all__ = ["Hook", "MultiScaleHook", "BackupHook", "ProgressHook", "ChartHook", "default_hooks"]
