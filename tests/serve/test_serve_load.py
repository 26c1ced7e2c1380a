"""`darkpy serve` loads its network as `detect` does (`load_inference_predictor`: at bf16 or fp16
one layer at a time, never the float32 network beside the converted copy), with outputs bit for
bit those of the old route (the whole network loaded, then folded and converted)."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("aiohttp", reason="darkpy[serve] (aiohttp) not installed")

import darkpy  # noqa: E402
from darkpy.cli.precision import load_inference_predictor  # noqa: E402
from darkpy.serve import engine  # noqa: E402
from tests.serve.conftest import REPO  # noqa: E402

CFG, WEIGHTS = REPO / "cfg" / "demo.cfg", REPO / "data" / "demo" / "demo.weights"
OPTIONS = dict(names=None, thresh=0.2, nms=0.45, hier_thresh=0.5, letterbox=True, device="cpu", batch=2)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def _same_outputs(a, b) -> None:
    c, h, w = a.predictor.net.input_shape
    x = torch.rand(2, c, h, w, generator=torch.Generator().manual_seed(3))
    for u, v in zip(a.predictor(x), b.predictor(x)):
        assert u.dtype == v.dtype and torch.equal(_bits(u), _bits(v))


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_served_detector_is_the_old_route_bit_for_bit(precision):
    new = engine.make_detector(load_inference_predictor(CFG, WEIGHTS, precision, device="cpu"),
                               precision=precision, **OPTIONS)
    old = engine.make_detector(darkpy.load_network(CFG, WEIGHTS, device="cpu"), precision=precision, **OPTIONS)
    assert new.predictor.precision == old.predictor.precision == precision
    _same_outputs(new, old)
    import cv2

    bgr = cv2.imread(str(REPO / "data" / "demo" / "images" / "001988.jpg"))
    found = [[(d.cls, d.prob, d.x1, d.y1, d.x2, d.y2) for r in det.detect(bgr) for d in r] for det in (new, old)]
    assert found[0] == found[1] and found[0]


def test_serve_command_loads_through_load_inference_predictor(cli, monkeypatch):
    import darkpy.cli.commands.serve as command
    import darkpy.serve.app as app

    made, served = [], []

    def loader(*args, **kwargs):
        made.append(load_inference_predictor(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(command, "load_inference_predictor", loader)
    monkeypatch.setattr(app, "serve", lambda detector, config, on_ready=None: served.append(detector))
    code, out, err = cli("serve", "--cfg", CFG, "--weights", WEIGHTS, "--precision", "bf16", "--device", "cpu",
                         "--port", "0")
    assert code == 0, out + err
    (detector,) = served
    assert detector.predictor is made[0] and detector.predictor.precision == "bf16"
    old = engine.make_detector(darkpy.load_network(CFG, WEIGHTS, device="cpu"), precision="bf16", **OPTIONS)
    _same_outputs(detector, old)


def test_serve_refuses_fp16_on_a_cpu_as_detect_does(cli):
    code, out, err = cli("serve", "--cfg", CFG, "--weights", WEIGHTS, "--precision", "fp16", "--device", "cpu")
    assert code == 2 and "fp16" in err and "bf16" in err
