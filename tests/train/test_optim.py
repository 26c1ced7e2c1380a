"""Darknet's SGD update, checked by hand."""
from __future__ import annotations

import pytest
import torch

from darkpy.net.model import parse_network
from darkpy.train.sgd import DarknetSGD, darknet_param_groups
from darkpy.train.schedule import images_per_step


def test_two_steps_by_hand():
    # B = 4, momentum .9, decay .01 (decay * B = .04); rates .1 then .05
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    b = torch.nn.Parameter(torch.tensor([0.5]))
    opt = DarknetSGD([{"params": [w]}, {"params": [b], "weight_decay": False}],
                     lr=0.1, momentum=0.9, decay=0.01, batch=4)
    w.grad, b.grad = torch.tensor([0.4, -0.8]), torch.tensor([1.0])
    opt.step()
    # updates = -g - .04 w = [-.44, .88]; w += .025 * updates; updates *= .9
    assert w.tolist() == pytest.approx([0.989, -1.978], abs=1e-7)
    assert b.tolist() == pytest.approx([0.475], abs=1e-7)
    assert opt.state[w]["updates"].tolist() == pytest.approx([-0.396, 0.792], abs=1e-7)
    w.grad, b.grad = torch.tensor([0.2, 0.0]), torch.tensor([-1.0])
    opt.step(lr=0.05)
    # updates = [-.396 - .2 - .04*.989, .792 + .04*1.978] = [-.63556, .87112]; w += .0125 * updates
    assert w.tolist() == pytest.approx([0.9810555, -1.967111], abs=1e-7)
    # bias: updates = -.9 + 1 = .1; b += .0125 * .1
    assert b.tolist() == pytest.approx([0.47625], abs=1e-7)


def test_matches_torch_sgd_with_scaled_gradient():
    torch.manual_seed(0)
    w1 = torch.nn.Parameter(torch.randn(5))
    w2 = torch.nn.Parameter(w1.detach().clone())
    B = 8
    ours = DarknetSGD([w1], lr=0.01, momentum=0.9, decay=0.0005, batch=B)
    ref = torch.optim.SGD([w2], lr=0.01, momentum=0.9, weight_decay=0.0005)
    for k in range(5):
        g = torch.randn(5)
        w1.grad, w2.grad = g.clone(), g / B
        ours.step(lr=0.01 * (k + 1))
        for group in ref.param_groups:
            group["lr"] = 0.01 * (k + 1)
        ref.step()
    assert torch.allclose(w1, w2, atol=1e-6)


def test_param_groups_for_network(golden):
    net = parse_network(golden / "cfg" / "g_yolov2_mini.cfg")
    groups = darknet_param_groups(net)
    decayed = {id(p) for g in groups if g["weight_decay"] for p in g["params"]}
    for layer in net.layers:
        for name, p in layer.named_parameters():
            assert (id(p) in decayed) == (name == "weight"), (layer.index, name)
    opt = DarknetSGD.for_network(net)
    assert opt.param_groups[0]["batch"] == images_per_step(net.net)
    assert opt.param_groups[0]["decay"] == pytest.approx(0.0005)


def test_end_to_end_step(golden):
    """The training step of docs/train.md on a small YOLOv2 network: gradients reach the first layer and
    the optimiser moves the weights."""
    from darkpy.train.detection.loss import RegionLoss
    from darkpy.train.schedule import current_batch, learning_rate

    net = parse_network(golden / "cfg" / "g_yolov2_mini.cfg")
    net.init_weights(seed=1)
    net.train()
    loss_fn = RegionLoss(net.layers[-1])
    opt = DarknetSGD.for_network(net)
    images = torch.rand(2, *net.input_shape, generator=torch.Generator().manual_seed(0))
    truth = torch.zeros(2, 30, 5)
    truth[:, 0] = torch.tensor([0.4, 0.6, 0.3, 0.5, 1.0])
    seen = 2
    _, inputs = net.forward_with_inputs(images)
    res = loss_fn(inputs[loss_fn.region.index], truth, seen)
    res.loss.backward()
    first = net.layers[0].weight
    assert first.grad is not None and first.grad.abs().sum() > 0
    before = first.detach().clone()
    opt.step(lr=learning_rate(net.net, current_batch(net.net, seen)) + 1e-3)
    assert not torch.equal(before, first.detach())
