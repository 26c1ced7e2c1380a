"""Counting the places where the host would wait for a GPU (issue 25), without a GPU.

`count_host_syncs()` patches the tensor methods that copy a value to the host (`item`, `tolist`,
`cpu`, `numpy`, `bool()`/`float()`/`int()`, `nonzero`, `.to("cpu")`) and counts their calls on
tensors that are not on the CPU. Run the step on the `meta` device (no data: the shape-only
device that, like CUDA, refuses CPU tensors mixed in by mistake) and every such call is a sync
a CUDA run would pay. Where a copy is expected (the one read per step), `values` gives what the
copy returns on `meta`: the only value shim the suite needs."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch


@dataclass
class SyncLog:
    calls: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.calls)


def _off_cpu(t) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type != "cpu"


@contextlib.contextmanager
def count_host_syncs(values: float = 0.0):
    log = SyncLog()
    T = torch.Tensor
    saved = {name: getattr(T, name) for name in
             ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero", "to")}
    saved_nonzero = torch.nonzero

    def fake(t, kind):
        """What the copy would give, computed without data (meta tensors hold none)."""
        if kind == "tolist":
            return torch.full(t.shape, values).tolist() if t.dim() else values
        if kind in ("cpu", "to"):
            return torch.full(t.shape, values, dtype=t.dtype)
        if kind == "numpy":
            return torch.full(t.shape, values, dtype=t.dtype).numpy()
        if kind == "nonzero":
            return torch.zeros((0, t.dim()), dtype=torch.long, device=t.device)
        return {"__bool__": bool(values), "__int__": int(values), "__index__": int(values)}.get(kind, values)

    def wrap(name):
        original = saved[name]

        def method(self, *args, **kwargs):
            if name == "to":
                dest = args[0] if args else kwargs.get("device")
                to_host = (isinstance(dest, (str, torch.device)) and torch.device(dest).type == "cpu")
                if not (to_host and _off_cpu(self)):
                    return original(self, *args, **kwargs)
            elif not _off_cpu(self):
                return original(self, *args, **kwargs)
            log.calls.append(name)
            if self.device.type == "meta":
                return fake(self, name)
            return original(self, *args, **kwargs)
        return method

    def nonzero(t, *args, **kwargs):
        if _off_cpu(t):
            log.calls.append("torch.nonzero")
            if t.device.type == "meta":
                return fake(t, "nonzero")
        return saved_nonzero(t, *args, **kwargs)

    try:
        for name in saved:
            setattr(T, name, wrap(name))
        torch.nonzero = nonzero
        yield log
    finally:
        for name, fn in saved.items():
            setattr(T, name, fn)
        torch.nonzero = saved_nonzero
