"""Training batch norm: the fused forward and hand-derived backward equal autograd's composite of
Darknet's formula (batch mean, unbiased variance, divide by sqrt(var) + 1e-6)."""
import pytest
import torch

from darkpy.net.layers.conv import BN_EPS, darknet_batchnorm


def composite(y, s, b):
    dims = [0] + list(range(2, y.dim()))
    view = [1, -1] + [1] * (y.dim() - 2)
    m = y.numel() // y.shape[1]
    mean, var = y.mean(dim=dims), y.var(dim=dims, unbiased=m > 1)
    return (y - mean.view(view)) / (var.sqrt().view(view) + BN_EPS) * s.view(view) + b.view(view)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (7, 5), (1, 2, 1, 1)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_forward_and_gradients_match_the_composite(shape, channels_last):
    torch.manual_seed(0)
    y = torch.randn(*shape, dtype=torch.float64) * 3 + 1
    if channels_last and y.dim() == 4:
        y = y.contiguous(memory_format=torch.channels_last)
    y.requires_grad_(True)
    s = torch.randn(shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.randn(shape[1], dtype=torch.float64, requires_grad=True)
    w = torch.randn(*shape, dtype=torch.float64)
    rm, rv = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    out = darknet_batchnorm(y, s, b, rm, rv, True)
    got = torch.autograd.grad((out * w).sum(), (y, s, b))
    ref_out = composite(y, s, b)
    ref = torch.autograd.grad((ref_out * w).sum(), (y, s, b), allow_unused=True)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    for g, r in zip(got, ref):
        if r is not None and torch.isfinite(r).all():
            torch.testing.assert_close(g, r, rtol=0, atol=1e-10)
    # rolling statistics moved by 1% towards the batch's
    dims = [0] + list(range(2, y.dim()))
    m = y.numel() // shape[1]
    torch.testing.assert_close(rm, 0.01 * y.detach().mean(dim=dims))
    torch.testing.assert_close(rv, 0.99 + 0.01 * y.detach().var(dim=dims, unbiased=m > 1))


def test_constant_channel_has_finite_gradient():
    y = torch.ones(4, 2, 3, 3, requires_grad=True)
    s, b = torch.ones(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    out = darknet_batchnorm(y, s, b, torch.zeros(2), torch.ones(2), True)
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(y.grad).all() and torch.isfinite(s.grad).all()


def test_small_variance_next_to_a_large_mean_keeps_float32_precision():
    torch.manual_seed(1)
    y64 = 100.0 + 1e-3 * torch.randn(8, 2, 4, 4, dtype=torch.float64)
    y = y64.float()
    s, b = torch.ones(2), torch.zeros(2)
    out = darknet_batchnorm(y, s, b, torch.zeros(2), torch.ones(2), True)
    ref = composite(y, s, b)   # float32 too: centred first, then scaled
    assert (out - ref).abs().max() < 1e-3


def test_batch_statistics_match_a_float64_reference_on_every_layout():
    """The blocked sums (CPU, channels_last or 2-D) and torch.var_mean (other layouts) give the
    unbiased variance and the mean to float32 precision, with millions of values per channel."""
    from darkpy.net.layers.conv import batch_statistics

    gen = torch.Generator().manual_seed(0)
    cases = [torch.randn(8, 4, 160, 160, generator=gen) * 0.5 + 3,           # 204,800 values a channel
             torch.randn(3000, 5, generator=gen) * 2 - 7,
             torch.randn(2, 3, 5, 7, generator=gen)]
    for y in cases:
        for layout in ([torch.channels_last] if y.dim() == 4 else []) + [torch.contiguous_format]:
            x = y.contiguous(memory_format=layout) if y.dim() == 4 else y
            var, mean, centred = batch_statistics(x, 1)
            dims = [0] + list(range(2, y.dim()))
            ref_mean = y.double().mean(dims)
            ref_var = y.double().var(dims, correction=1)
            assert torch.allclose(mean.double(), ref_mean, rtol=2e-7, atol=1e-7)
            assert torch.allclose(var.double(), ref_var, rtol=4e-7, atol=0)
            if centred is not None:
                view = [1, -1] + [1] * (y.dim() - 2)
                assert torch.equal(centred, x - mean.view(view))
