"""Learning-rate schedules against Darknet's own get_current_rate."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from darkpy.net.cfg import parse_cfg, parse_cfg_text
from darkpy.net.netconfig import NetConfig
from darkpy.train.schedule import current_batch, images_per_step, learning_rate

GOLDEN_LR = sorted((Path(__file__).resolve().parents[1] / "golden" / "lr").glob("*.txt"))


def _net(text: str) -> NetConfig:
    return NetConfig.from_section(parse_cfg_text("[net]\nwidth=8\nheight=8\nchannels=3\n" + text)[0])


@pytest.mark.golden
@pytest.mark.parametrize("path", GOLDEN_LR, ids=lambda p: p.stem)
def test_golden_rates(path, golden):
    net = NetConfig.from_section(parse_cfg(golden / "cfg" / f"{path.stem}.cfg")[0])
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    assert lines
    for b, rate in lines:
        expected = float(rate)
        got = learning_rate(net, int(b))
        assert got == pytest.approx(expected, rel=1e-6, abs=0 if expected else 1e-30), (b, got, expected)


def test_other_policies():
    exp = _net("learning_rate=0.1\npolicy=exp\ngamma=0.5")
    assert learning_rate(exp, 3) == pytest.approx(0.0125, rel=1e-6)
    sig = _net("learning_rate=0.1\npolicy=sigmoid\ngamma=0.01\nstep=100")
    assert learning_rate(sig, 100) == pytest.approx(0.05, rel=1e-6)
    assert learning_rate(sig, 300) == pytest.approx(0.1 / (1 + math.exp(2)), rel=1e-6)
    steps = _net("learning_rate=1\npolicy=steps\nsteps=10,20,30\nscales=.5,.5,10")
    got = [learning_rate(steps, b) for b in (9, 10, 19, 20, 30)]
    assert got == pytest.approx([1, .5, .5, .25, 2.5], rel=1e-6)
    rnd = _net("learning_rate=1\npolicy=random\npower=1")
    a = learning_rate(rnd, 5, np.random.default_rng(3))
    assert a == learning_rate(rnd, 5, np.random.default_rng(3)) and 0 <= a < 1
    # burn-in precedes every policy
    burn = _net("learning_rate=1\nburn_in=10\npower=2\npolicy=steps\nsteps=1\nscales=.1")
    assert learning_rate(burn, 5) == pytest.approx(0.25, rel=1e-6)
    # poly with a fractional power past max_batches: Darknet's pow gives NaN
    assert math.isnan(learning_rate(_net("policy=poly\npower=0.5\nmax_batches=10"), 20))


def test_current_batch():
    net = _net("batch=64\nsubdivisions=8")
    assert images_per_step(net) == 64
    assert current_batch(net, 64 * 5 + 63) == 5
