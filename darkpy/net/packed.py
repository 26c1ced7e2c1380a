"""Convolution weights packed once into oneDNN's own layout, for inference on the CPU.

`F.conv2d` on the CPU hands oneDNN plain (O, C, kh, kw) weights, and oneDNN reorders them into
its blocked layout on every call. For a large layer that reorder costs as much as a good part of
the convolution itself: yolov2-voc's 13x13 layers with 1024 filters ran at 60-70% of the
machine's matmul rate at batch 4 and at a third of it at batch 1 (a video frame). Packing the
weights once, when the predictor is built, removes that work: measured on a 2-core Zen 4, a
yolov2-voc forward is 1.09x faster at batch 4 and 1.33-1.42x at batch 1 in fp32, 1.04x and
1.1x in bf16. The numbers are the same convolution's: bit-identical in fp32 (tested).

The packed weights are the only copy kept: the layer's `weight` becomes a storage-less ("meta")
tensor with the same shape, dtype and strides, so a packed network holds its weights once, as
before. Such a network runs on the CPU only and cannot be copied or saved (`FusedConv` refuses);
`Predictor(..., pack=False)` keeps plain weights for that.

This uses PyTorch's `mkldnn_prepacked` operators (what `torch.jit.freeze` +
`optimize_for_inference` insert), eagerly, on ordinary dense tensors: no tracing, no build time.
`available()` is False where this torch build has no oneDNN; layers then stay unpacked.
"""
from __future__ import annotations

from functools import lru_cache

import torch

PACKABLE = (torch.float32, torch.bfloat16)


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether this torch build packs convolutions for oneDNN (x86 builds with oneDNN do)."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        ops = torch.ops.mkldnn_prepacked
        return callable(ops.conv2d_prepack) and callable(ops.conv2d_run)
    except (AttributeError, RuntimeError):
        return False


def pack(weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int, groups: int,
         in_shape: tuple[int, int, int], channels_last: bool = False):
    """A `OneDnnConv` holding `weight` in oneDNN's layout (its own copy) and `bias`.
    `in_shape` (C, H, W) is the layout hint; any batch or size runs on it. `channels_last`: the
    inputs will be NHWC (the weights are packed for the kernel that reads them); an input in the
    other layout is converted, see `OneDnnConv`. The context also
    keeps a handle on the tensor it packed from (only for unpacking, which darkpy never asks
    for), so `weight` must be a tensor made for this call: its storage is released once packed,
    and `bias` is kept as given. Returns None where this layer cannot be packed (not on the
    CPU, a dtype oneDNN does not pack here): it then runs as before."""
    if not available() or weight.device.type != "cpu" or weight.dtype not in PACKABLE or weight.dim() != 4:
        return None
    w, b = weight.detach(), None if bias is None else bias.detach()
    if b is not None and b.dtype != w.dtype:
        b = b.to(w.dtype)
    c, h, wd = in_shape
    try:
        ctx = torch.ops.mkldnn_prepacked.conv2d_prepack(
            w, b, [int(stride)] * 2, [int(padding)] * 2, [1, 1], int(groups), [1, int(c), int(h), int(wd)], "none")
    except RuntimeError:
        return None
    w.untyped_storage().resize_(0)
    return OneDnnConv(ctx, channels_last)


class OneDnnConv:
    """A packed convolution: called on `x` (NCHW or channels_last), the output keeps its layout.

    The weights suit one input layout, the one they were packed for. An input in the other
    layout makes oneDNN pick another kernel, which wants the weights in another blocking and
    reorders all of them on every call: yolov2-voc's layer 29 (1280 -> 1024, 3x3), whose input
    a route concatenates into NCHW, spent 4.8 ms a call reordering 24 MB of bf16 weights
    beside a 17 ms convolution. Converting the input instead moves a few hundred kB."""

    def __init__(self, ctx, channels_last: bool = False):
        self.ctx = ctx
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            if not x.is_contiguous(memory_format=torch.channels_last):
                x = x.contiguous(memory_format=torch.channels_last)
        elif not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
            # NCHW-packed (fp32): either layout is taken as it comes, which keeps fp32's results
            # those of the unpacked convolution, bit for bit (tested)
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn_prepacked.conv2d_run(x, self.ctx)


def storage_free(t: torch.Tensor) -> torch.Tensor:
    """A tensor with `t`'s shape, strides and dtype and no storage: what a packed layer shows
    as its weight."""
    return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")
