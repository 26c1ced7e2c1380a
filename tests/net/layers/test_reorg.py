import numpy as np
import torch

from darkpy.net.layers.reorg import darknet_reorg, darknet_reorg_reverse


def reference_reorg(x: np.ndarray, stride: int) -> np.ndarray:
    """Darknet's reorg as a plain loop over the flat buffer (forward pass of [reorg])."""
    b, c, h, w = x.shape
    flat = x.ravel()
    out = np.empty_like(flat)
    out_c = c // (stride * stride)
    for bi in range(b):
        for k in range(c):
            for j in range(h):
                for i in range(w):
                    in_index = i + w * (j + h * (k + c * bi))
                    c2, offset = k % out_c, k // out_c
                    w2, h2 = i * stride + offset % stride, j * stride + offset // stride
                    out_index = w2 + w * stride * (h2 + h * stride * (c2 + out_c * bi))
                    out[in_index] = flat[out_index]
    return out.reshape(b, c * stride * stride, h // stride, w // stride)


def test_reorg_matches_darknet_order():
    x = torch.arange(2 * 8 * 6 * 4, dtype=torch.float32).reshape(2, 8, 6, 4)
    assert np.array_equal(darknet_reorg(x, 2).numpy(), reference_reorg(x.numpy(), 2))


def test_reorg_is_not_pixel_unshuffle():
    x = torch.rand(1, 8, 4, 4)
    assert not torch.equal(darknet_reorg(x, 2), torch.nn.functional.pixel_unshuffle(x, 2))


def test_reverse_undoes_reorg():
    x = torch.rand(1, 32, 6, 6)
    assert torch.equal(darknet_reorg_reverse(darknet_reorg(x, 2), 2), x)
