"""The classification loss against Darknet's deltas (softmax_layer.c, cost_layer.c, data.c)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import darkpy
from darkpy.net.model import parse_network
from darkpy.train.classifier.loss import SECRET_NUM, build_truth, classification_loss, find_head
from darkpy.wordtree.hierarchy import hierarchy_predictions
from darkpy.errors import UsageError
from darkpy.wordtree.tree import read_tree

GOLDEN_CFG = "tests/golden/cfg"

MINI = """[net]
batch=4
subdivisions=1
width=16
height=16
channels=3
{net_extra}
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters={out}
size=1
stride=1
pad=1
activation=linear

[avgpool]

[softmax]
{soft_extra}
{cost}
"""


def mini_net(tmp_path, out=5, soft_extra="", cost="", net_extra=""):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(MINI.format(out=out, soft_extra=soft_extra, cost=cost, net_extra=net_extra))
    net = darkpy.load_network(cfg, device="cpu")
    net.train()
    return net


def grads(net):
    return torch.cat([p.grad.reshape(-1) for p in net.parameters() if p.grad is not None])


def reference_grads(net, x, weight_fn):
    """Gradients of sum(weight_fn(z)) where z is the softmax input: autograd through plain torch."""
    net.zero_grad()
    z = net.forward_all(x)[net.output_index - 1].reshape(x.shape[0], -1)
    weight_fn(z).backward()
    return grads(net)


def ours(net, x, truth):
    net.zero_grad()
    parts = classification_loss(net, find_head(net), x, torch.from_numpy(truth))
    parts.loss.backward()
    return grads(net), parts


def frozen_bn(net):
    # Batch statistics make the two passes differ only by the rolling update; keep them equal.
    net.eval()
    return net


def test_softmax_delta_is_truth_minus_output(tmp_path):
    net = frozen_bn(mini_net(tmp_path))
    x = torch.rand(4, 3, 16, 16)
    truth = build_truth(np.array([0, 3, 4, 1]), 5, 5)
    g, parts = ours(net, x, truth)
    t = torch.from_numpy(truth)
    ref = reference_grads(net, x, lambda z: -(t * torch.log_softmax(z, 1)).sum())
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)
    p = parts.probs
    assert parts.loss.item() == pytest.approx(float(-(torch.log(p[t == 1])).sum()), rel=1e-6)


def test_cost_layer_adds_its_delta_without_the_softmax_jacobian(tmp_path):
    net = frozen_bn(mini_net(tmp_path, cost="[cost]\ntype=sse\nscale=0.5\n"))
    x = torch.rand(4, 3, 16, 16)
    truth = build_truth(np.array([2, 2, 0, 1]), 5, 5)
    g, parts = ours(net, x, truth)
    t = torch.from_numpy(truth)
    with torch.no_grad():
        p = torch.softmax(net.forward_all(x)[net.output_index - 1].reshape(4, -1), 1)
    # the logits receive (1 + 0.5) * (t - p): a cross-entropy gradient times 1.5
    ref = reference_grads(net, x, lambda z: -1.5 * (t * torch.log_softmax(z, 1)).sum())
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)
    xent = float(-(torch.log(p[t == 1])).sum())
    sse = float(((t - p) ** 2).sum())
    assert parts.loss.item() == pytest.approx((xent + sse) / 2, rel=1e-5)


def test_noloss_softmax_leaves_only_the_cost(tmp_path):
    net = frozen_bn(mini_net(tmp_path, soft_extra="noloss=1", cost="[cost]\n"))
    x = torch.rand(4, 3, 16, 16)
    truth = build_truth(np.array([2, 2, 0, 1]), 5, 5)
    g, _ = ours(net, x, truth)
    t = torch.from_numpy(truth)
    ref = reference_grads(net, x, lambda z: -(t * torch.log_softmax(z, 1)).sum())
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)


def test_label_smoothing_truth_and_gradient(tmp_path):
    truth = build_truth(np.array([1, 0]), 4, 4, smooth=0.1)
    np.testing.assert_allclose(truth[0], [0.1 / 3, 0.9, 0.1 / 3, 0.1 / 3], rtol=1e-6)
    net = frozen_bn(mini_net(tmp_path, out=4))
    x = torch.rand(2, 3, 16, 16)
    g, _ = ours(net, x, truth)
    t = torch.from_numpy(truth)
    ref = reference_grads(net, x, lambda z: -(t * torch.log_softmax(z, 1)).sum())
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)


def fill_hierarchy_reference(label, tree):
    """Darknet's fill_truth + fill_hierarchy loops."""
    truth = [0.0] * tree.n
    truth[label] = 1.0
    for j in range(tree.n):
        if truth[j]:
            p = tree.parent[j]
            while p >= 0:
                truth[p] = 1.0
                p = tree.parent[p]
    count = 0
    for g in range(tree.groups):
        size = int(tree.group_size[g])
        if not any(truth[count:count + size]):
            truth[count:count + size] = [SECRET_NUM] * size
        count += size
    return truth


def test_tree_truth_matches_fill_hierarchy():
    tree = read_tree(f"{GOLDEN_CFG}/mini.tree")
    labels = np.arange(tree.n)
    got = build_truth(labels, tree.n, tree.n, tree)
    for i in labels:
        assert got[i].tolist() == fill_hierarchy_reference(i, tree), i


def test_tree_softmax_masks_groups_without_truth_and_cost_masked(tmp_path):
    tree_path = tmp_path / "mini.tree"
    tree_path.write_text(open(f"{GOLDEN_CFG}/mini.tree").read())
    net = frozen_bn(mini_net(tmp_path, out=9, soft_extra=f"tree={tree_path}", cost="[cost]\ntype=masked\n"))
    tree = net.layers[net.output_index].tree
    x = torch.rand(3, 3, 16, 16)
    truth = build_truth(np.array([5, 2, 8]), 9, 9, tree)
    g, parts = ours(net, x, truth)
    t = torch.from_numpy(truth)
    group = torch.as_tensor(tree.group)

    def ref_loss(z):
        # per-group log-softmax; masked entries (t == SECRET) carry nothing; the masked cost
        # layer adds another (t - p) at the same entries: twice the group cross-entropy
        total = 0
        for gi in range(tree.groups):
            sel = group == gi
            tg = t[:, sel]
            keep = (tg != SECRET_NUM).all(1, keepdim=True)
            kept = torch.where(keep, tg, torch.zeros_like(tg))
            total = total - 2 * (kept * torch.log_softmax(z[:, sel], 1)).sum()
        return total

    ref = reference_grads(net, x, ref_loss)
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-6)
    assert np.isfinite(parts.loss.item())


def test_regression_head_without_softmax(tmp_path):
    cfg = tmp_path / "r.cfg"
    cfg.write_text("[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\n[connected]\noutput=3\nactivation=linear\n"
                   "[cost]\ntype=sse\nscale=2\n")
    net = darkpy.load_network(cfg, device="cpu")
    x = torch.rand(2, 1, 4, 4)
    t = torch.rand(2, 3)
    net.zero_grad()
    parts = classification_loss(net, find_head(net), x, t)
    parts.loss.backward()
    g = grads(net)
    net.zero_grad()
    (((net(x).reshape(2, -1) - t) ** 2).sum()).backward()  # d/dy = 2 (y - t) = -scale * delta
    torch.testing.assert_close(g, grads(net))


def test_detector_is_not_a_classifier(repo):
    net = parse_network(repo / "tests/golden/cfg/g_yolov2_mini.cfg")
    with pytest.raises(UsageError, match="not a classifier"):
        find_head(net)


def test_hierarchy_predictions_multiply_down_the_tree():
    tree = read_tree(f"{GOLDEN_CFG}/mini.tree")
    p = torch.rand(2, tree.n)
    got = hierarchy_predictions(p, tree, only_leaves=False)
    for j in range(tree.n):
        want = p[:, j].clone()
        k = tree.parent[j]
        while k >= 0:
            want *= p[:, k]
            k = tree.parent[k]
        torch.testing.assert_close(got[:, j], want)
    leaves = hierarchy_predictions(p, tree, only_leaves=True)
    assert (leaves[:, ~torch.as_tensor(tree.leaf)] == 0).all()
