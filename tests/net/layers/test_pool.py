import numpy as np
import torch

from darkpy.net.model import parse_network


def reference_maxpool(x: np.ndarray, size: int, stride: int, padding: int) -> np.ndarray:
    c, h, w = x.shape
    oh, ow = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
    off = -(padding // 2)
    out = np.full((c, oh, ow), -np.inf, np.float32)
    for k in range(c):
        for i in range(oh):
            for j in range(ow):
                for n in range(size):
                    for m in range(size):
                        y, xx = off + i * stride + n, off + j * stride + m
                        if 0 <= y < h and 0 <= xx < w:
                            out[k, i, j] = max(out[k, i, j], x[k, y, xx])
    return out


def test_maxpool_size2_stride1_keeps_size_like_tiny_yolo():
    for size, stride in ((2, 1), (2, 2), (3, 2), (3, 1)):
        net = parse_network(f"[net]\nwidth=7\nheight=7\nchannels=2\n[maxpool]\nsize={size}\nstride={stride}\n")
        x = torch.randn(1, 2, 7, 7)
        ref = reference_maxpool(x[0].numpy(), size, stride, size - 1)
        got = net(x)[0].numpy()
        assert got.shape == ref.shape == net.layers[0].out_shape
        assert np.array_equal(got, ref)
