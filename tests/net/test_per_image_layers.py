"""On the CPU a batch goes through a network's first, activation-heavy layers one image at a time
(issue 24, peak memory): the same outputs as the whole batch, and only where nothing mixes images."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import darkpy
from darkpy.net import inference
from darkpy.net.inference import Predictor, _per_image_layers, forward_detections
from darkpy.net.model import parse_network

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def _last(net) -> int:
    return max(l.index for l in net.detection_layers)


def test_the_split_follows_the_activations():
    voc = parse_network(ROOT / "cfg" / "yolov2-voc.cfg")
    assert _per_image_layers(voc, 1, _last(voc)) == 0              # one image: nothing to split
    assert _per_image_layers(voc, 4, _last(voc)) == 8              # 416 -> 52x52: the big maps
    assert voc.blocks[7].out_shape[1:] == (52, 52)
    small = parse_network(ROOT / "cfg" / "yolov2-voc.cfg", 320)
    assert 0 < _per_image_layers(small, 4, _last(small)) < 8        # fewer layers are large at 320
    # yolov3: layer 1 is read again by a shortcut, so only layer 0 could go alone, which gains nothing
    v3 = parse_network(ROOT / "cfg" / "yolov3.cfg")
    assert _per_image_layers(v3, 4, _last(v3)) == 0


def test_a_layer_read_by_a_route_ends_the_split():
    net = parse_network("[net]\nwidth=128\nheight=128\nchannels=3\n"
                        "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
                        "[maxpool]\nsize=2\nstride=2\n"
                        "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
                        "[route]\nlayers=-2\n"
                        "[convolutional]\nfilters=14\nsize=1\nstride=1\npad=1\nactivation=linear\n"
                        "[region]\nanchors=1,1, 2,2\nclasses=2\ncoords=4\nnum=2\n")
    assert 1 in net._keep
    assert _per_image_layers(net, 4, _last(net)) <= 1


CASES = [(GOLDEN / "cfg" / f"{p.name}.cfg", p / "weights") for p in sorted((GOLDEN / "forward").iterdir())
         if p.name in ("g_yolov2_mini", "g_tiny_mini")]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("cfg,weights", CASES + [(ROOT / "cfg" / "demo.cfg", ROOT / "data/demo/demo.weights")],
                         ids=lambda p: p.parent.name if p.name == "weights" else p.stem)
def test_image_by_image_gives_the_batch_outputs(cfg, weights, precision, monkeypatch):
    monkeypatch.setattr(inference, "PER_IMAGE_POSITIONS", 16)  # the small test nets split too
    p = Predictor.load(cfg, weights, device="cpu", precision=precision)
    c, h, w = p.net.input_shape
    x = torch.rand(3, c, h, w, generator=torch.Generator().manual_seed(0))
    assert _per_image_layers(p.model, 3, _last(p.model)) > 0, "the case must exercise the split"
    split = p(x)
    monkeypatch.setattr(inference, "_per_image_layers", lambda *a: 0)
    whole = p(x)
    for a, b in zip(split, whole):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)  # kernels may differ by batch size: rounding


def test_plain_network_forward_is_split_too():
    net = darkpy.load_network(ROOT / "cfg" / "demo.cfg", ROOT / "data/demo/demo.weights", device="cpu")
    x = torch.rand(2, *net.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = forward_detections(net, x)[0]
        ref = torch.cat([forward_detections(net, x[i:i + 1])[0] for i in range(2)])
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
