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


def _pool(size, stride, w=9, h=7, c=3):
    return parse_network(f"[net]\nwidth={w}\nheight={h}\nchannels={c}\n[maxpool]\nsize={size}\nstride={stride}\n")


def test_inference_maxpool_is_max_pool2d_without_the_index_tensor():
    """Inference takes element-wise maxima of strided views (no int64 index tensor as large as the
    output): the values of F.max_pool2d on the padded input, in every dtype and layout, NaN included."""
    gen = torch.Generator().manual_seed(0)
    for size, stride in ((2, 2), (2, 1), (3, 2), (3, 1), (1, 1), (3, 3)):
        net = _pool(size, stride)
        layer = net.layers[0]
        x = torch.randn(2, 3, 7, 9, generator=gen)
        x[0, 1, 3, 4] = float("nan")
        for dtype in (torch.float32, torch.bfloat16):
            for fmt in (torch.contiguous_format, torch.channels_last):
                xi = x.to(dtype).contiguous(memory_format=fmt)
                with torch.inference_mode():
                    got = net(xi)
                lead = (size - 1) // 2
                _, oh, ow = layer.out_shape
                pad = (lead, max(0, (ow - 1) * stride + size - 9 - lead), lead, max(0, (oh - 1) * stride + size - 7 - lead))
                ref = torch.nn.functional.max_pool2d(
                    torch.nn.functional.pad(xi, pad, value=float("-inf")), size, stride)[:, :, :oh, :ow]
                assert got.dtype == dtype and got.shape == ref.shape
                assert torch.equal(torch.nan_to_num(got, nan=7.0), torch.nan_to_num(ref, nan=7.0))
                assert got.isnan().any()
                if fmt is torch.channels_last:
                    assert got.is_contiguous(memory_format=torch.channels_last)


def test_training_maxpool_sends_the_gradient_to_one_max_of_a_tie():
    net = _pool(2, 2, w=2, h=2, c=1)
    x = torch.ones(1, 1, 2, 2, requires_grad=True)   # a four-way tie
    net(x).sum().backward()
    assert x.grad.sum().item() == 1.0 and int((x.grad != 0).sum()) == 1
