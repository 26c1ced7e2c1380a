from __future__ import annotations

from darkpy.net.benchmark import benchmark_network


def test_benchmark_cli_small(golden, cli):
    code, out, err = cli("benchmark", golden / "cfg" / "g_tiny_mini.cfg", "--sizes", "64,96", "--iters", "1",
                         "--device", "cpu", "--matmul-size", "256")
    assert code == 0, out + err
    assert "64x64" in out and "96x96" in out and "GFLOP/s" in out


def test_benchmark_rejects_bad_size(golden, cli):
    code, out, err = cli("benchmark", golden / "cfg" / "g_tiny_mini.cfg", "--sizes", "70")
    assert code == 2 and "multiple of 32" in err


def test_benchmark_rows(golden):
    import darkpy

    net = darkpy.load_network(golden / "cfg" / "g_tiny_mini.cfg", device="cpu")
    (row,) = benchmark_network(net, [64], batch=2, device="cpu", iters=1)
    assert row.batch == 2 and row.fps > 0 and row.bflops > 0


def test_benchmark_loads_as_detect_and_times_the_same_network():
    """`darkpy benchmark` times a `Predictor.load`-ed network (bf16: read one layer at a time),
    resized in place per size: the same FLOPs as `benchmark_network`, and at each size the
    outputs of the old route (the whole fp32 network loaded, then folded and converted) bit for bit."""
    from pathlib import Path

    import torch

    import darkpy
    from darkpy.net.benchmark import benchmark_predictor
    from darkpy.net.inference import Predictor

    root = Path(__file__).resolve().parents[2]
    cfg, weights = root / "cfg" / "demo.cfg", root / "data" / "demo" / "demo.weights"
    predictor = Predictor.load(cfg, weights, device="cpu", precision="bf16")
    rows = benchmark_predictor(predictor, [64, 96], batch=2, iters=1)
    old = benchmark_network(darkpy.load_network(cfg, weights, device="cpu"), [64, 96], batch=2, device="cpu",
                            iters=1, precision="bf16")
    assert [(r.size, r.batch, r.bflops) for r in rows] == [(r.size, r.batch, r.bflops) for r in old]
    assert all(r.fps > 0 for r in rows)
    for size in (96, 64):
        predictor.net.resize(size, size)
        whole = Predictor(darkpy.load_network(cfg, weights, size=size, device="cpu"), device="cpu",
                          precision="bf16", inplace=True)
        x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size))
        for u, v in zip(predictor(x), whole(x)):
            assert torch.equal(u.contiguous().view(torch.int32), v.contiguous().view(torch.int32))


def test_benchmark_cli_bf16(cli):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code, out, err = cli("benchmark", root / "cfg" / "demo.cfg", "--weights", root / "data" / "demo" / "demo.weights",
                         "--sizes", "64", "--iters", "1", "--device", "cpu", "--matmul-size", "64",
                         "--precision", "bf16")
    assert code == 0, out + err
    assert "bf16" in out and "64x64" in out
