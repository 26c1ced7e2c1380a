"""Exporting networks to other runtimes. ONNX for now; a new format is one more function here and
one more subcommand in `darkpy/cli/commands/export.py`.

The ONNX graph is the inference network (batch norm folded) from the input image tensor
(N, C, H, W, float in [0, 1]) to the outputs of its detection layers, with Darknet's test-time
activations applied (region: logistic x, y, objectness, softmax classes; yolo: logistic) in
Darknet's layout. Box decoding and NMS stay outside the graph (`darkpy.detect.decode`), so the same
post-processing serves PyTorch and ONNX outputs.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn

from darkpy.errors import UsageError
from darkpy.wordtree.hierarchy import group_softmax
from darkpy.net.inference import forward_detections
from darkpy.net.inference import fuse


def require_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UsageError("ONNX export needs the 'onnx' package: pip install 'darkpy[onnx]' "
                         "(onnx, onnxruntime, onnxscript)") from None


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise UsageError("running ONNX models needs 'onnxruntime': pip install onnxruntime") from None
    return onnxruntime


class _ExportRegion(nn.Module):
    """A [region] layer's activations written for export (the tree softmax differs in form only)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        for key in ("index", "section_name", "in_shape", "out_shape", "num", "coords", "classes", "tree",
                    "background", "softmax", "biases", "anchors"):
            setattr(self, key, getattr(layer, key))
        self.register_buffer("group", torch.as_tensor(layer.tree.group, dtype=torch.long), persistent=False)

    @property
    def sources(self):
        return ()

    def forward(self, x, outputs=None):
        b, _, h, w = x.shape
        v = x.reshape(b, self.num, self.coords + 1 + self.classes, h, w)
        obj = v[:, :, self.coords:self.coords + 1]
        cls = v[:, :, self.coords + 1:].permute(0, 1, 3, 4, 2)
        cls = group_softmax(cls, self.group, self.tree.groups).permute(0, 1, 4, 2, 3)
        obj = obj if self.background else torch.sigmoid(obj)
        parts = [torch.sigmoid(v[:, :, 0:2]), v[:, :, 2:self.coords], obj, cls]
        return torch.cat(parts, dim=2).reshape(x.shape)


class _DetectionOutputs(nn.Module):
    def __init__(self, net):
        super().__init__()
        for i, layer in enumerate(net.blocks):
            if layer.section_name == "region" and getattr(layer, "tree", None) is not None:
                net.blocks[i] = _ExportRegion(layer)
        self.net = net

    def forward(self, x):
        outs = forward_detections(self.net, x)
        return outs[0] if len(outs) == 1 else tuple(outs)


def output_names(net) -> list[str]:
    layers = net.detection_layers
    if not layers:
        return ["output"]
    return [f"{l.section_name}{l.index}" for l in layers]


def export_onnx(net, path: str | Path, size: int | tuple[int, int] | None = None, dynamic: bool = False,
                batch: int = 1, opset: int = 18, fuse_bn: bool = True) -> Path:
    """Write `net` (a darkpy Network) as ONNX. `size` resizes the network first (width or
    (width, height)); `dynamic` makes batch, height and width symbolic (any multiple of 32 then
    works, as in Darknet). Returns the path."""
    require_onnx()

    model = fuse(net) if fuse_bn else copy.deepcopy(net)
    model = model.cpu().float().eval()
    if size is not None:
        w, h = (size, size) if isinstance(size, int) else size
        model.resize(w, h)
    c, h, w = model.net.channels, model.net.height, model.net.width
    x = torch.rand(batch, c, h, w)
    names = output_names(model)
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {"images": {0: "batch", 2: "height", 3: "width"}}
        dynamic_axes.update({n: {0: "batch", 2: "grid_h", 3: "grid_w"} for n in names})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python-computed padding (constant per size)
        torch.onnx.export(_DetectionOutputs(model), (x,), str(path), input_names=["images"],
                          output_names=names, dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False,
                          do_constant_folding=True)
    return path


def run_onnx(path: str | Path, x: torch.Tensor) -> list:
    """Run an exported model with onnxruntime on CPU; returns numpy arrays, one per output."""
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.cpu().numpy()})
