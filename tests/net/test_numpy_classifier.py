"""The torch-free numpy engine on classifier networks (avgpool, softmax in all its forms,
connected, dropout, cost, crop, shortcut, every activation it runs): against Darknet's golden
vectors, and against darkpy's torch engine at fp32 on random-weight cfgs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darkpy.net.numpy_forward import ACTIVATIONS, NumpyNetwork, NumpyUnsupported
from darkpy.net.spec import ACTIVATION_NAMES, read_spec
from golden_layers import assert_layers_match_darknet

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


@pytest.mark.golden
@pytest.mark.parametrize("name", ["g_classifier_mini", "g_connected_mini"])
def test_every_classifier_layer_matches_darknet(name):
    cfg, folder = GOLDEN / "cfg" / f"{name}.cfg", GOLDEN / "forward" / name
    net = NumpyNetwork.load(cfg, folder / "weights", classifier=True)
    x = np.fromfile(folder / "input.f32", np.float32).reshape(1, net.channels, net.height, net.width)
    outs = net.forward(x, keep=True)
    files = assert_layers_match_darknet(net, folder, outs)
    assert len(files) == len(net.layers)
    out = net.output(x).ravel()
    np.testing.assert_allclose(out, np.fromfile(files[-1], np.float32), atol=1e-6)


def random_weights(cfg, path: Path, seed: int = 3, size: int | None = None) -> Path:
    """Darknet-style random weights from the torch engine, with the last convolution's or
    connected layer's biases spread out, so that the classes are well apart (a top-k decided
    by float noise would say nothing about the engines)."""
    import torch

    import darkpy

    net = darkpy.load_network(cfg, device="cpu", seed=seed, size=size)
    last = [l for l in net.layers if l.section_name in ("convolutional", "connected")][-1]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        n = last.bias.numel()
        last.bias.copy_(torch.randperm(n, generator=g).float() * (4.0 / n))
        last.weight.mul_(0.05)
    return net.save_weights(path)


def torch_outputs(cfg, weights, x, size=None):
    import torch

    import darkpy

    net = darkpy.load_network(cfg, weights, device="cpu", size=size)
    with torch.no_grad():
        return [o.numpy() for o in net.forward_all(torch.from_numpy(x))], net.output_index


def compare_engines(cfg, weights, x, size=None, tol=1e-5):
    spec = read_spec(cfg, size)
    net = NumpyNetwork.load(spec, weights, classifier=True)
    got = net.forward(x, keep=True)
    ref, out_index = torch_outputs(cfg, weights, x, size)
    assert len(got) == len(ref)
    for i, (a, b) in enumerate(zip(got, ref)):
        assert a.shape == b.shape, (i, a.shape, b.shape)
        scale = max(1.0, float(np.abs(b).max()))
        err = float(np.abs(a - b).max())
        assert err <= tol * scale, f"layer {i} ({net.layers[i].kind}): max abs error {err} (scale {scale})"
    out = net.output(x)
    np.testing.assert_array_equal(out, got[out_index])
    return out.reshape(len(x), -1), ref[out_index].reshape(len(x), -1)


def test_tiny_classifier_equals_the_torch_engine(tmp_path, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "t.cfg", "classifier", classes=10)
    weights = random_weights(cfg, tmp_path / "t.weights")
    x = np.random.default_rng(0).random((2, 3, 32, 32), np.float32)
    got, ref = compare_engines(cfg, weights, x)
    from darkpy.classify.prediction import rank_top_k

    assert (rank_top_k(got, 5) == rank_top_k(ref, 5)).all()


HEAD = """[net]
width={size}
height={size}
channels=3

[convolutional]
batch_normalize=1
filters=6
size=3
stride=2
pad=1
activation={act}
"""


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_every_activation_equals_the_torch_engine(tmp_path, act):
    cfg = tmp_path / f"{act}.cfg"
    cfg.write_text(HEAD.format(size=16, act=act) + f"""
[connected]
output=12
activation={act}

[dropout]
probability=.3

[connected]
batch_normalize=1
output=5
activation=linear

[softmax]
temperature=2
""")
    weights = random_weights(cfg, tmp_path / f"{act}.weights")
    x = (np.random.default_rng(1).random((2, 3, 16, 16), np.float32) * 8 - 4).astype(np.float32)
    compare_engines(cfg, weights, x)


def test_gelu_is_left_to_torch(tmp_path):
    assert set(ACTIVATION_NAMES) - set(ACTIVATIONS) == {"gelu"}
    cfg = tmp_path / "gelu.cfg"
    cfg.write_text(HEAD.format(size=16, act="gelu"))
    with pytest.raises(NumpyUnsupported, match="gelu"):
        NumpyNetwork.build(cfg, classifier=True)


def test_crop_shortcut_grouped_and_spatial_softmax_and_cost(tmp_path):
    cfg = tmp_path / "mix.cfg"
    cfg.write_text(HEAD.format(size=20, act="leaky").replace("[convolutional]", """[crop]
crop_height=18
crop_width=18

[convolutional]""", 1) + """
[convolutional]
filters=6
size=3
stride=1
pad=1
activation=linear

[shortcut]
from=-2
activation=leaky
alpha=0.5
beta=2

[maxpool]
size=2
stride=2

[shortcut]
from=-3
activation=linear

[softmax]
spatial=1

[convolutional]
filters=8
size=1
stride=1
activation=linear

[avgpool]

[softmax]
groups=2

[cost]
type=sse
""")
    weights = random_weights(cfg, tmp_path / "mix.weights")
    x = np.random.default_rng(2).random((1, 3, 20, 20), np.float32)
    got, ref = compare_engines(cfg, weights, x)
    assert np.allclose(got.reshape(1, 2, 4).sum(2), 1, atol=1e-6)  # groups=2: each group sums to 1


def test_wordtree_softmax_equals_the_torch_engine(tmp_path, golden):
    from tests.classify.cls_helpers import mini_tree_classifier

    cfg = mini_tree_classifier(tmp_path, golden)
    weights = random_weights(cfg, tmp_path / "tree.weights")
    x = np.random.default_rng(3).random((2, 3, 16, 16), np.float32)
    compare_engines(cfg, weights, x)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["darknet19", "tiny", "extraction", "darknet19_1k_tree"])
def test_published_classifier_cfgs_equal_the_torch_engine(tmp_path, name):
    """Darknet's own classifier cfgs (random weights, at 64x64 to stay small)."""
    cfg = ROOT / "cfg" / f"{name}.cfg"
    weights = random_weights(cfg, tmp_path / f"{name}.weights", size=64)
    x = np.random.default_rng(4).random((1, 3, 64, 64), np.float32)
    got, ref = compare_engines(cfg, weights, x, size=64)
    from darkpy.classify.prediction import rank_top_k

    assert (rank_top_k(got, 5) == rank_top_k(ref, 5)).all()


def test_detector_mode_still_wants_a_region_layer(tmp_path, tiny_cfg):
    cfg = tiny_cfg(tmp_path / "c.cfg", "classifier")
    with pytest.raises(NumpyUnsupported, match="no \\[region\\] layer"):
        NumpyNetwork.build(cfg)
    assert NumpyNetwork.build(cfg, classifier=True).output_layer.section_name == "softmax"
