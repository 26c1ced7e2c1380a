"""Convolutions packed for oneDNN (darkpy.net.packed): the same numbers, one copy of the weights."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import darkpy
from darkpy.net import packed
from darkpy.net.inference import FusedConv, Predictor

pytestmark = pytest.mark.skipif(not packed.available(), reason="this torch has no oneDNN")


def _mini(golden, name="g_yolov2_mini"):
    folder = golden / "forward" / name
    net = darkpy.load_network(golden / "cfg" / f"{name}.cfg", folder / "weights", device="cpu")
    c, h, w = net.input_shape
    x = torch.from_numpy(np.fromfile(folder / "input.f32", np.float32).reshape(1, c, h, w))
    return net, x, folder


def test_packed_fp32_matches_plain_and_darknet(golden):
    net, x, folder = _mini(golden)
    plain, pk = Predictor(net, device="cpu", pack=False), Predictor(net, device="cpu")
    assert pk.pack and not plain.pack
    layer = net.detection_layers[0].index
    ref = np.fromfile(folder / f"layer{layer:02d}.f32", np.float32)
    a, b = plain(x)[0], pk(x)[0]
    assert (a - b).abs().max().item() < 1e-5
    assert np.abs(b.numpy().ravel() - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())


def test_packed_results_do_not_depend_on_threads_or_batch(golden):
    """PyTorch's plain CPU convolution picks its kernel by batch and thread count; packed
    convolutions always run oneDNN's, so the numbers are bit-for-bit the same either way."""
    net, x, _ = _mini(golden)
    p = Predictor(net, device="cpu")
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = p(x)[0]
        torch.set_num_threads(2)
        two = p(x)[0]
    finally:
        torch.set_num_threads(n)
    assert torch.equal(one, two)
    assert torch.equal(p(torch.cat([x, x]))[0][1], one[0])


def test_packed_layers_keep_one_copy_of_their_weights(golden):
    net, x, _ = _mini(golden)
    p = Predictor(net, device="cpu", precision="bf16")
    convs = [l for l in p.model.blocks if isinstance(l, FusedConv)]
    assert convs and all(l.packed is not None for l in convs)
    for fused, orig in zip(convs, [l for l in net.blocks if hasattr(l, "rolling_mean") or hasattr(l, "weight")]):
        assert fused.weight.device.type == "meta" and fused.weight.shape == orig.weight.shape
    head = p.model.blocks[p.net.detection_layers[0].index - 1]
    assert head.weight.dtype == torch.float32 and convs[0].weight.dtype == torch.bfloat16
    assert all(o.dtype == torch.float32 for o in p(x))


def test_a_packed_network_refuses_to_be_copied_in_one_line(golden):
    net, _, _ = _mini(golden)
    p = Predictor(net, device="cpu")
    for fn in (copy.deepcopy, pickle.dumps):
        with pytest.raises(RuntimeError, match="packed for oneDNN.*pack=False"):
            fn(p.model)


def test_compile_and_pack_false_keep_plain_weights(golden):
    net, x, _ = _mini(golden)
    for p in (Predictor(net, device="cpu", pack=False), Predictor(net, device="cpu", compile=True)):
        assert not p.pack
        assert all(l.packed is None and l.weight.device.type == "cpu"
                   for l in p.model.blocks if isinstance(l, FusedConv))


def test_load_packs_fp32_layer_by_layer_and_frees_the_file_buffer(golden, monkeypatch):
    """fp32 `Predictor.load` packs each layer as it is read: no layer keeps a tensor in the read
    buffer (which the next layer overwrites), and the results equal the plain network's."""
    cfg = golden / "cfg" / "g_yolov2_mini.cfg"
    weights = golden / "forward" / "g_yolov2_mini" / "weights"
    _, x, _ = _mini(golden)
    p = Predictor.load(cfg, weights, device="cpu", precision="fp32")
    plain = Predictor.load(cfg, weights, device="cpu", precision="fp32", pack=False)
    assert p.pack and all(l.packed is not None for l in p.model.blocks if isinstance(l, FusedConv))
    assert (p(x)[0] - plain(x)[0]).abs().max().item() < 1e-5


def test_bf16_layers_run_on_the_layout_their_weights_were_packed_for(golden):
    """bf16 weights are packed for NHWC inputs, by both ways of building a predictor; an input in
    NCHW (what a route's concatenation gives) is converted rather than handed over, since oneDNN
    would then reorder all of the layer's weights on every call. Same numbers either way."""
    net, x, _ = _mini(golden)
    cfg, weights = golden / "cfg" / "g_yolov2_mini.cfg", golden / "forward" / "g_yolov2_mini" / "weights"
    for p in (Predictor(net, device="cpu", precision="bf16"), Predictor.load(cfg, weights, device="cpu",
                                                                             precision="bf16")):
        body = [l for l in p.model.blocks if isinstance(l, FusedConv) and l.weight.dtype == torch.bfloat16]
        assert body and all(l.packed.channels_last for l in body)
        layer = body[-1]
        c, h, w = layer.in_shape
        xin = torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
        with torch.no_grad():
            nchw = layer.packed(xin.contiguous())
            nhwc = layer.packed(xin.contiguous(memory_format=torch.channels_last))
        assert torch.equal(nchw, nhwc)
    fp32 = Predictor(net, device="cpu")
    assert not any(l.packed.channels_last for l in fp32.model.blocks
                   if isinstance(l, FusedConv) and isinstance(l.packed, packed.OneDnnConv))
