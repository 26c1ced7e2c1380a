"""The life of a process group: rendezvous per restart round, timeouts, resume without a shared
folder, a lost peer as one line, and the `--ddp-cpu` launcher.

Why each piece exists:

- **A store prefix per restart round.** torchrun's agent keeps one TCPStore for the whole job
  (`TORCHELASTIC_USE_AGENT_STORE=True`) and does not clear it between restarts. The keys a
  process group writes there (gloo's peer addresses, the init barrier) outlive the workers, so
  a restarted group read the dead workers' addresses and failed in `connectFullMesh`
  ("Connection refused"); a torch-only script fails the same way. `group_options` wraps the
  store in a `PrefixStore` named after `TORCHELASTIC_RESTART_COUNT`, so every round starts from
  empty keys.
- **Resume by itself.** A restarted round (restart count > 0) continues from the last backup
  when there is one, a first start follows `--resume`; rank 0 decides and everybody follows.
- **No shared filesystem.** Rank 0 reads NAME.backup and NAME.backup.state and broadcasts their
  bytes (`shared_backup`); the other ranks never open the backup folder. The state is read back
  with `torch.load(weights_only=True)` as from the file.
- **A lost peer is one line.** Collectives time out after `timeout` (`--dist-timeout`), and an
  error from the communication layer during training becomes a `DistributedError` naming the
  lost rank, the last backup and how to resume (`peer_failures`). The survivors find out who is
  lost by checking in on the rendezvous store for a few seconds: a rank that does not check in is
  the lost one (when the store itself is gone, so is its host).
- **The launcher** (`spawn`, behind `--ddp-cpu` and `--gpus`) starts the ranks in their own
  process group, forwards SIGINT/SIGTERM once to each, waits until they have saved, and turns a
  rank's user-facing error into that one line in the parent.
"""
from __future__ import annotations

import io
import os
import re
import signal
import sys
import tempfile
import threading
import uuid
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist

from darkpy.errors import DarkpyError, DistributedError
from darkpy.train import backup as bk

DEFAULT_TIMEOUT = 600.0      # seconds a collective may wait for a peer (--dist-timeout)
CHECK_IN_SECONDS = 3.0       # how long survivors wait for each other before naming the lost rank

_STORE: dist.Store | None = None   # this round's (prefixed) store, for the check-in after a failure
_TIMEOUT = DEFAULT_TIMEOUT
_STARTS = 0


# -- rendezvous per round ----------------------------------------------------------------------

def restart_round() -> int:
    """How many times torchrun restarted the worker group (0 on the first start or without torchrun)."""
    try:
        return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


def under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ


def group_options(rank: int, world_size: int, timeout: float | None = None) -> dict[str, Any]:
    """Keyword arguments for `init_process_group`: a store whose keys are this restart round's
    only, and the collective timeout. Uses MASTER_ADDR / MASTER_PORT as `env://` does."""
    global _STORE, _TIMEOUT
    _TIMEOUT = float(timeout if timeout is not None else DEFAULT_TIMEOUT)
    delta = timedelta(seconds=_TIMEOUT)
    addr = os.environ.get("MASTER_ADDR", "127.0.0.1")
    port = int(os.environ.get("MASTER_PORT", "29500"))
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    try:
        base = dist.TCPStore(addr, port, world_size, is_master=(not agent and rank == 0), timeout=delta,
                             wait_for_workers=False, multi_tenant=not agent)
    except (RuntimeError, dist.DistError) as exc:
        raise DistributedError(f"rank {rank}: cannot reach the rendezvous store at {addr}:{port} "
                               f"({_first_line(exc)}); is rank 0 running and reachable?") from None
    try:
        round_id = _agree_round(base, rank, world_size, _TIMEOUT)
    except (RuntimeError, dist.DistError, TimeoutError) as exc:
        raise joining_failed(rank, world_size, exc) from None
    _STORE = dist.PrefixStore(f"darkpy/round-{round_id}", base)
    return {"store": _STORE, "timeout": delta}


def _agree_round(store: dist.Store, rank: int, world_size: int, timeout: float) -> str:
    """A key prefix that every rank of this group shares and no earlier group used.

    `TORCHELASTIC_RESTART_COUNT` is not enough: torchrun counts failures per node, and a node
    whose workers were restarted because another node's failed (a membership change) does not
    count it, so two nodes can disagree. Instead rank 0 draws a fresh nonce and hands it to each
    rank in a two-way handshake of nonces (join -> ack -> confirm), which keys left by an earlier
    round cannot complete. Rank 0 also counts the groups formed on this store (`group_starts`):
    torchrun's store lives as long as the job, so a count above 1 means a restart."""
    global _STARTS
    deadline = time.monotonic() + timeout
    me = uuid.uuid4().hex

    def text(key: str) -> str | None:
        return store.get(key).decode() if store.check([key]) else None

    if rank == 0:
        _STARTS = int(store.add("darkpy/group-starts", 1))
        acked: dict[int, str] = {}
        waiting = set(range(1, world_size))
        while waiting:
            for r in sorted(waiting):
                joined = text(f"darkpy/join/{r}")
                if joined is None:
                    continue
                if acked.get(r) != joined:
                    store.set(f"darkpy/ack/{r}", f"{joined}:{me}")
                    acked[r] = joined
                if text(f"darkpy/confirm/{r}") == f"{joined}:{me}":
                    waiting.discard(r)
            if waiting:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rank(s) {', '.join(map(str, sorted(waiting)))} did not join")
                time.sleep(0.05)
        return me
    store.set(f"darkpy/join/{rank}", me)
    while True:
        ack = text(f"darkpy/ack/{rank}")
        if ack is not None and ack.startswith(me + ":"):
            leader = ack.split(":", 1)[1]
            store.set(f"darkpy/confirm/{rank}", f"{me}:{leader}")
            return leader
        if time.monotonic() > deadline:
            raise TimeoutError("rank 0 did not answer")
        time.sleep(0.05)


def group_starts() -> int:
    """Rank 0: how many process groups this job's store has seen (1 on a first start)."""
    return _STARTS


def joining_failed(rank: int, world_size: int, exc: BaseException) -> DistributedError:
    """`init_process_group` gave up: one line instead of the store's traceback."""
    return DistributedError(f"rank {rank} could not form the group of {world_size} processes within "
                            f"{_TIMEOUT:g} s ({_first_line(exc)}); did every rank start, with the same "
                            f"MASTER_ADDR/MASTER_PORT?")


def dist_timeout() -> float:
    return _TIMEOUT


def forget_store() -> None:
    """The group is gone: forget its store and its start count (a later group starts afresh)."""
    global _STORE, _STARTS
    _STORE = None
    _STARTS = 0


# -- resume from rank 0's folder ---------------------------------------------------------------

@dataclass
class SharedBackup:
    """NAME.backup as this rank can load it (rank 0: the file itself; others: a private copy of
    rank 0's bytes), the matching state (or None and why), and where it lives on rank 0."""

    weights: Path
    origin: Path
    state: dict[str, Any] | None
    why: str
    _temp: bool = False

    def discard(self) -> None:
        if self._temp:
            try:
                self.weights.unlink()
            except OSError:
                pass


def run_id() -> str:
    """torchrun's id for this job (`--rdzv-id`, a fresh one with `--standalone`); "" without torchrun.
    Saved in the backup state so that a restart resumes only from a backup of its own job."""
    return os.environ.get("TORCHELASTIC_RUN_ID", "")


def from_this_job(found: SharedBackup) -> bool:
    return found.state is not None and found.state.get("run_id", "") == run_id()


def restarted() -> bool:
    """This process belongs to a group torchrun started again (on rank 0, the one that decides:
    also after a restart that torchrun did not count, see `_agree_round`)."""
    return restart_round() > 0 or _STARTS > 1


def resume_mode(resume: bool) -> str:
    """'yes' (--resume: a backup must exist), 'auto' (a torchrun restart: resume when there is a
    backup, else start afresh) or 'no'."""
    if resume:
        return "yes"
    return "auto" if restarted() else "no"


def shared_backup(backup_dir: str | Path, name: str, resume: bool, info, device: torch.device
                  ) -> tuple[str, SharedBackup | None]:
    """(mode, backup) with rank 0's decision and files, the same on every rank. `mode` is
    `resume_mode` of rank 0; backup is None when rank 0 has none (or mode is 'no')."""
    wpath, spath = bk.backup_path(backup_dir, name), bk.state_path(backup_dir, name)
    modes = ("no", "auto", "yes")
    wbytes = sbytes = b""
    mode = resume_mode(resume)
    if info.is_main and mode != "no":
        if wpath.exists():
            wbytes = wpath.read_bytes()
            sbytes = spath.read_bytes() if spath.exists() else b""
    if info.enabled:
        head = _broadcast_ints([modes.index(mode), len(wbytes), len(sbytes)], device)
        mode = modes[head[0]]
        if not info.is_main:
            wbytes = _broadcast_bytes(b"", head[1], device)
            sbytes = _broadcast_bytes(b"", head[2], device)
        else:
            _broadcast_bytes(wbytes, head[1], device)
            _broadcast_bytes(sbytes, head[2], device)
    if mode == "no" or not wbytes:
        return mode, None
    if info.is_main:
        local, temp = wpath, False
    else:
        fd, name_ = tempfile.mkstemp(prefix=f"darkpy-{name}-rank{info.rank}-", suffix=".backup")
        with os.fdopen(fd, "wb") as fh:
            fh.write(wbytes)
        local, temp = Path(name_), True
    state, why = _state_from_bytes(sbytes, wbytes, spath, wpath)
    return mode, SharedBackup(local, wpath, state, why, temp)


def _state_from_bytes(sbytes: bytes, wbytes: bytes, spath: Path, wpath: Path) -> tuple[dict | None, str]:
    if not sbytes:
        return None, f"{spath} missing: momentum restarts from zero"
    try:
        state = torch.load(io.BytesIO(sbytes), map_location="cpu", weights_only=True)
    except Exception:  # torn, foreign or corrupt: never used
        state = None
    if not isinstance(state, dict):
        return None, f"{spath} cannot be read: ignoring it (momentum restarts from zero)"
    want = state.get("weights_digest")
    if want is not None and want != bk.digest_bytes(wbytes):
        return None, f"{spath} was saved with other weights than {wpath}: ignoring it (momentum restarts from zero)"
    return state, ""


def _broadcast_ints(values: list[int], device: torch.device) -> list[int]:
    t = torch.tensor(values, dtype=torch.int64, device=device)
    dist.broadcast(t, 0)
    return [int(v) for v in t.tolist()]


def _broadcast_bytes(data: bytes, size: int, device: torch.device) -> bytes:
    if size == 0:
        return b""
    if data:
        t = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device)
    else:
        t = torch.empty(size, dtype=torch.uint8, device=device)
    dist.broadcast(t, 0)
    return bytes(t.cpu().numpy().tobytes())


def watch_agent(rank: int, every: float = 1.0) -> threading.Thread | None:
    """Under torchrun: when this worker's agent dies (its node is being taken down, or the agent
    was killed), stop as Ctrl-C does (finish the batch; rank 0 saves a backup) instead of training
    on unsupervised while the other nodes' agents wait for this one at their exit barrier."""
    if not under_torchrun():
        return None
    return watch_parent(rank, "torchrun agent", every)


def watch_parent(rank: int, who: str, every: float = 1.0) -> threading.Thread:
    """Stop after the batch (SIGTERM to this process) once the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                print(f"darkpy: rank {rank}: its {who} (pid {parent}) is gone: stopping after this batch",
                      file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=watch, name="darkpy-parent-watch", daemon=True)
    thread.start()
    return thread


# -- a lost peer -------------------------------------------------------------------------------

_DIST_ERRORS: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(dist, "DistError", None), getattr(torch, "DistBackendError", None)) if t is not None)
_DIST_WORDS = ("gloo", "nccl", "connection", "timed out", "timeout", "peer", "socket", "broken pipe",
               "store", "process group", "processgroup")


def is_peer_failure(exc: BaseException) -> bool:
    """An error of the communication layer (as opposed to a bug or a user mistake)."""
    if isinstance(exc, DarkpyError):
        return False
    if _DIST_ERRORS and isinstance(exc, _DIST_ERRORS):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(w in text for w in _DIST_WORDS)


def lost_ranks(rank: int, world_size: int, wait: float = CHECK_IN_SECONDS) -> list[int] | None:
    """Ranks that did not check in on the store within `wait` seconds after a failure; None when
    the store is unreachable (then its host is lost)."""
    store = _STORE
    if store is None:
        return None
    try:
        store.set_timeout(timedelta(seconds=max(1.0, wait)))
        store.set(f"alive/{rank}", "1")
        deadline = time.monotonic() + wait
        missing = [r for r in range(world_size) if r != rank]
        while missing and time.monotonic() < deadline:
            missing = [r for r in missing if not store.check([f"alive/{r}"])]
            if missing:
                time.sleep(0.2)
        return missing
    except Exception:
        return None


def describe_loss(rank: int, world_size: int, exc: BaseException, last_backup: tuple[Path, int] | None,
                  backup_hint: tuple[Path, int] | None) -> str:
    """The one line a surviving rank ends with."""
    lost = lost_ranks(rank, world_size)
    if lost is None:
        who = "rank 0's machine (the rendezvous store is gone)" if rank != 0 else "the rendezvous store"
    elif lost:
        who = ", ".join(f"rank {r}" for r in lost)
    else:
        who = "a peer"
    kind = "timed out waiting for" if "timed out" in str(exc).lower() or "timeout" in str(exc).lower() else "lost"
    if last_backup is not None:
        where = f"the last backup is {last_backup[0]} (batch {last_backup[1]})"
    elif backup_hint is not None:
        where = f"the last backup is {backup_hint[0]} on rank 0's machine (batch {backup_hint[1]})"
    else:
        where = "no backup was written yet (start again)"
    how = ""
    if last_backup or backup_hint:
        how = "continue with --resume" + (" (torchrun --max-restarts N resumes by itself)" if under_torchrun() else "")
    return f"rank {rank} {kind} {who} ({_first_line(exc)}); {where}" + (f": {how}" if how else "")


@contextmanager
def peer_failures(trainer) -> Iterator[None]:
    """Around a distributed `trainer.run()`: a communication error ends this rank with one line
    (`DistributedError`), not a traceback."""
    try:
        yield
    except Exception as exc:
        info = trainer.dist
        if not info.enabled or not is_peer_failure(exc):
            raise
        raise DistributedError(describe_loss(info.rank, info.world_size, exc, trainer.last_good_backup,
                                             _expected_backup(trainer))) from None


def _expected_backup(trainer) -> tuple[Path, int] | None:
    """Where rank 0 put its last backup, as another rank can tell from the batch number."""
    every = getattr(trainer, "backup_every", bk.BACKUP_EVERY) or 0
    if not getattr(trainer, "backups", True) or every <= 0 or not hasattr(trainer, "optimizer"):
        return None
    last = (trainer.iteration // every) * every
    start = getattr(trainer, "start_iteration", 0)
    if last <= 0 or (last <= start and trainer.last_good_backup is None and not trainer.resume):
        return None
    return bk.backup_path(trainer.backup_dir, trainer.name), last


def _first_line(exc: BaseException) -> str:
    """The gist of a communication error: its first sentence, without gloo's source location."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    line = re.sub(r"^\[[^\]]*\.(cc|cpp|h|hpp):\d+\]\s*", "", line)
    line = line.split(". ")[0].rstrip(".")
    return line if len(line) <= 120 else line[:117] + "..."


# -- the launcher ------------------------------------------------------------------------------

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
TERMINATE_GRACE = 20.0   # seconds the other ranks get to report after one died without a word


def _child(rank: int, queue, target: Callable, args: tuple) -> None:
    """One rank: its own process group (a terminal's Ctrl-C reaches the launcher only, which
    forwards it once); a user-facing error goes to the launcher as text, not as a traceback."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    watch_parent(rank, "launcher")   # out of the terminal's process group: stop when the launcher dies
    try:
        target(rank, *args)
    except DarkpyError as exc:
        queue.put((rank, str(exc)))
        os._exit(EXIT_ERROR)
    except KeyboardInterrupt:
        os._exit(EXIT_INTERRUPTED)


def spawn(target: Callable, nprocs: int, args: tuple = ()) -> None:
    """Run `target(rank, *args)` in `nprocs` spawned processes and wait for all of them.

    SIGINT/SIGTERM to this process go to every rank (they finish the batch, save and stop) and
    this process waits for them before raising KeyboardInterrupt. A rank's DarkpyError comes back
    as one DistributedError (the lowest rank's text); a rank that died without one is named."""
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_child, args=(r, queue, target, args), daemon=False) for r in range(nprocs)]
    signalled: list[int] = []

    def forward(signum, frame):
        signalled.append(signum)
        for p in procs:
            if p.pid is not None and p.exitcode is None:
                try:
                    os.kill(p.pid, signum)
                except ProcessLookupError:
                    pass

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            saved[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):   # not the main thread: no forwarding
            pass
    messages: dict[int, str] = {}
    try:
        for p in procs:
            p.start()
        first_failure: float | None = None
        while any(p.exitcode is None for p in procs):
            for p in procs:
                p.join(0.1)
            while not queue.empty():
                r, text = queue.get()
                messages.setdefault(r, text)
            failed = [p for p in procs if p.exitcode not in (None, 0, EXIT_INTERRUPTED)]
            if failed and first_failure is None:
                first_failure = time.monotonic()
            if first_failure is not None and any(p.exitcode is None for p in procs):
                # a user error on one rank: the others cannot go on (they would wait in a collective);
                # a rank that died: give the others time to name it, then stop them
                if messages:
                    _stop(procs, kill=True)
                elif time.monotonic() - first_failure > TERMINATE_GRACE:
                    _stop(procs)
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)
        for p in procs:
            if p.exitcode is None:
                p.kill()
                p.join()
    while not queue.empty():
        r, text = queue.get()
        messages.setdefault(r, text)
    if messages:
        raise DistributedError(messages[min(messages)])
    for r, p in enumerate(procs):
        if p.exitcode not in (0, EXIT_INTERRUPTED):
            raise DistributedError(f"rank {r} of {nprocs} ended with {_exit_text(p.exitcode)}")
    if signalled or any(p.exitcode == EXIT_INTERRUPTED for p in procs):
        raise KeyboardInterrupt()


def _stop(procs, kill: bool = False) -> None:
    """SIGTERM (save and stop; a rank stuck in a collective gets SIGKILL after the grace), or
    SIGKILL at once when a rank's error means the run cannot start."""
    for p in procs:
        if p.exitcode is None:
            p.kill() if kill else p.terminate()
    deadline = time.monotonic() + TERMINATE_GRACE
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.exitcode is None:
            p.kill()


def _exit_text(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


__all__ = ["DEFAULT_TIMEOUT", "restart_round", "under_torchrun", "group_options", "joining_failed", "watch_agent", "watch_parent", "SharedBackup", "resume_mode",
           "shared_backup", "is_peer_failure", "lost_ranks", "describe_loss", "peer_failures", "spawn"]
