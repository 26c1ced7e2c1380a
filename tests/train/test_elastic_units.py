"""darkpy.train.elastic without training: the round handshake over a store with an earlier
round's keys in it, resume decisions, one-line messages, the state check of a broadcast backup."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist

from darkpy.train import backup as bk
from darkpy.train import distributed as dd
from darkpy.train import elastic


def _handshake(port: int, world: int) -> list[str]:
    """Every rank's `_agree_round` on a store (a client each, as torchrun's workers have)."""
    got: list[str | None] = [None] * world

    def rank(r: int) -> None:
        client = dist.TCPStore("127.0.0.1", port, world, is_master=False, timeout=timedelta(seconds=20))
        got[r] = elastic._agree_round(client, r, world, 20.0)

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return got


def test_each_round_agrees_on_a_new_prefix_despite_the_old_rounds_keys(monkeypatch):
    monkeypatch.setattr(elastic, "_STARTS", 0)   # restored afterwards: no later Trainer thinks it restarted
    port = dd.free_port()
    server = dist.TCPStore("127.0.0.1", port, None, is_master=True, timeout=timedelta(seconds=20),
                           wait_for_workers=False)
    first = _handshake(port, 3)
    assert first[0] and len(set(first)) == 1
    assert elastic.group_starts() == 1
    second = _handshake(port, 3)          # the same store, its keys from the first round still there
    assert second[0] and len(set(second)) == 1 and second[0] != first[0]
    assert elastic.group_starts() == 2    # rank 0 of the second round knows it is a restart
    assert elastic.restarted()
    del server


def test_a_rank_that_never_joins_times_out_with_its_number(monkeypatch):
    monkeypatch.setattr(elastic, "_STARTS", 0)
    port = dd.free_port()
    store = dist.TCPStore("127.0.0.1", port, None, is_master=True, timeout=timedelta(seconds=5),
                          wait_for_workers=False)
    with pytest.raises(TimeoutError, match="rank.s. 1 did not join"):
        elastic._agree_round(store, 0, 2, 0.5)


def test_resume_modes(monkeypatch):
    monkeypatch.setattr(elastic, "_STARTS", 1)
    monkeypatch.delenv("TORCHELASTIC_RESTART_COUNT", raising=False)
    assert elastic.resume_mode(True) == "yes" and elastic.resume_mode(False) == "no"
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert elastic.resume_mode(False) == "auto" and elastic.resume_mode(True) == "yes"


def test_communication_errors_become_their_gist():
    exc = RuntimeError("[/__w/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error "
                       "[127.0.0.1]:23717: Connection reset by peer. This is typically caused by a crash")
    assert elastic.is_peer_failure(exc)
    assert elastic._first_line(exc) == "Read error [127.0.0.1]:23717: Connection reset by peer"
    assert not elastic.is_peer_failure(ValueError("shape mismatch"))
    assert not elastic.is_peer_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_a_single_process_reads_its_own_backup_and_checks_the_state(tmp_path):
    wpath = bk.backup_path(tmp_path, "n")
    bk.write_checkpoint(tmp_path, "n", lambda p: p.write_bytes(b"weights-1"), {"seen": 8, "run_id": ""})
    mode, found = elastic.shared_backup(tmp_path, "n", True, dd.SINGLE, torch.device("cpu"))
    assert mode == "yes" and found.weights == wpath and found.state["seen"] == 8
    wpath.write_bytes(b"weights-2")       # weights replaced behind the state's back: state refused
    _, found = elastic.shared_backup(tmp_path, "n", True, dd.SINGLE, torch.device("cpu"))
    assert found.state is None and "other weights" in found.why
    mode, found = elastic.shared_backup(tmp_path / "none", "n", True, dd.SINGLE, torch.device("cpu"))
    assert mode == "yes" and found is None
