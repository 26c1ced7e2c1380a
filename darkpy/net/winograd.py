"""3x3 convolutions by Winograd's minimal filtering, F(2x2, 3x3), for the CPU in fp32.

A 3x3 convolution computes each output from 9 inputs per channel; F(2x2, 3x3) computes a 2x2 block
of outputs from the 4x4 inputs around it with 16 products instead of 36 (Lavin & Gray, "Fast
Algorithms for Convolutional Neural Networks", 2016). The inputs and the filters are first
transformed by fixed 4x4 matrices (additions only for the inputs), the products become 16
independent matrix products over the channels, and the 16 results are added back into the 2x2
outputs. For a layer whose time is all in the matrix products (many channels, small maps: yolov2's
13x13 layers with 1024 or 1280 channels) that is 2.25x fewer multiplications; measured on the
2-core Zen 4 against oneDNN's packed direct convolution, fp32: 1.8-2.3x faster for those layers
(1 and 2 threads, batch 1 to 4), 1.2-1.5x for 512 channels or 26x26 maps.

The numbers differ from a direct convolution only by float rounding: each output is a sum of the
same products in another order and with exact coefficients (0, ±1, ±1/2 in the filter transform,
computed in float64), about 2e-6 of a layer's largest output, the order of what separates
Darknet's CPU build from its cuDNN build. `eligible` limits it to the layers where it pays; the
transformed filters take 16/9 of the weights' memory, so only those layers use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_CHANNELS = 128     # from here yolov2-voc gains, layer by layer (measured, see above)
MIN_FILTERS = 128


def eligible(size: int, stride: int, padding: int, groups: int, channels: int, filters: int,
             dtype: torch.dtype) -> bool:
    """Whether a convolution runs by F(2x2, 3x3): 3x3, stride 1, 'same' padding, not grouped,
    fp32, and large enough to gain (`MIN_CHANNELS`, `MIN_FILTERS`)."""
    return (size == 3 and stride == 1 and padding == 1 and groups == 1 and dtype == torch.float32
            and channels >= MIN_CHANNELS and filters >= MIN_FILTERS)


_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def _kron() -> torch.Tensor:
    """G (x) G as a 16 x 9 matrix: the (i, j) value of G w G^T is row 4i + j times w's 9 values."""
    g = torch.tensor(_G, dtype=torch.float64)
    return torch.einsum("ik,jl->ijkl", g, g).reshape(16, 9)


class Winograd3x3:
    """A 3x3 'same' convolution with its filters transformed once (16 x O x C, float32)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, chunk: int = 128):
        o, c = weight.shape[:2]
        k = _kron()
        self.filters = torch.empty((16, o, c), dtype=torch.float32)   # used transposed: (16, C, O)
        for start in range(0, o, chunk):   # in float64, a few filters at a time: one rounding each
            w = weight[start:start + chunk].detach().reshape(-1, 9).to(torch.float64)
            self.filters[:, start:start + chunk].copy_((k @ w.T).view(16, -1, c))
        self.bias = None if bias is None else bias.detach().to(torch.float32).clone()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        th, tw = (h + 1) // 2, (w + 1) // 2
        if x.dtype != torch.float32:
            x = x.float()
        # NHWC view of channels_last memory; padded so that every 4x4 tile exists
        xh = x.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)
        xp = F.pad(xh, (0, 0, 1, 2 * tw + 1 - w, 1, 2 * th + 1 - h))
        r = [xp[:, k:k + 2 * th:2] for k in range(4)]           # row k of every tile: N th Wp C
        rows = (r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3])
        v = torch.empty((16, n, th, tw, c), dtype=torch.float32)
        for i, t in enumerate(rows):                           # then the columns: B^T d B
            col = [t[:, :, k:k + 2 * tw:2] for k in range(4)]
            torch.sub(col[0], col[2], out=v[4 * i])
            torch.add(col[1], col[2], out=v[4 * i + 1])
            torch.sub(col[2], col[1], out=v[4 * i + 2])
            torch.sub(col[1], col[3], out=v[4 * i + 3])
        m = torch.bmm(v.view(16, n * th * tw, c), self.filters.transpose(1, 2))   # 16 products over the channels
        o = m.shape[-1]
        m = m.view(4, 4, n, th, tw, o)
        s = [m[0, j] + m[1, j] + m[2, j] for j in range(4)]    # A^T M A, rows first
        d = [m[1, j] - m[2, j] - m[3, j] for j in range(4)]
        out = torch.empty((n, th, 2, tw, 2, o), dtype=torch.float32)
        torch.add(s[0] + s[1], s[2], out=out[:, :, 0, :, 0])
        torch.sub(s[1] - s[2], s[3], out=out[:, :, 0, :, 1])
        torch.add(d[0] + d[1], d[2], out=out[:, :, 1, :, 0])
        torch.sub(d[1] - d[2], d[3], out=out[:, :, 1, :, 1])
        y = out.view(n, 2 * th, 2 * tw, o)
        if self.bias is not None:
            y.add_(self.bias)
        if 2 * th != h or 2 * tw != w:
            y = y[:, :h, :w].contiguous()
        return y.permute(0, 3, 1, 2)                            # NCHW shape, channels_last memory
