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
