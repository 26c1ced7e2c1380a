"""Fast inference: batch norm folded into the convolutions, inference mode, channels_last, a
reduced precision where the hardware has it (bf16 on AMX/AVX512_BF16 CPUs, fp16 on CUDA).

`fuse(net)` returns a network where every batch-normalised `[convolutional]` layer is one
convolution with a bias: Darknet's test-time batch norm is an affine map per channel,

    y = scale · (conv(x) - mean) / (sqrt(var) + 1e-6) + bias
      = conv_{w·k}(x) + (bias - mean·k),   k = scale / (sqrt(var) + 1e-6),

so folding it changes the result only by float rounding (tests check ≤ 1e-4). The factor k is
computed in float64 and each weight is multiplied in float64 and rounded once, in place: the same
numbers as a float64 fold, without a float64 copy of the network (which cost seconds on a 200 MB
network). `fuse(net, inplace=True)` (and `Predictor(net, inplace=True)`) folds into the
network's own tensors — no copy, so loading for inference costs little more than reading the
weights file; the network is then for inference only (its batch norm is gone).
`Predictor.load(cfg, weights)` builds that network itself; in bf16/fp16 it reads, folds and
converts one layer at a time, so the float32 file is never in memory beside the converted copy.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from darkpy.device import select_device
from darkpy.heap import release_freed_memory
from darkpy.net import packed
from darkpy.net import winograd as wg
from darkpy.net.layers.base import Layer
from darkpy.net.layers.conv import Convolutional
from darkpy.net.spec import BN_EPS
from darkpy.net.model import Network, load_network, parse_network
from darkpy.net.precision import precision_name, resolve_precision, strict_fp32
from darkpy.net.weights import WeightsHeader, WeightsReader, plan_weights, read_layers

def _scale_rows_(w: torch.Tensor, k: torch.Tensor, chunk: int = 1 << 18) -> None:
    """w[i] *= k[i] in place, each product in float64 rounded once to w's dtype (what a float64
    fold gives), a few output channels at a time: the float64 temporaries stay ~2 MB and the
    passes vectorise (a mixed-dtype `mul_` on the whole tensor is ~10x slower). On the CPU this
    runs in numpy, single-threaded: these small steps are too short to gain from torch's thread
    pool and, on a busy machine, its barriers made them ~100x slower (3.4 s for yolov2-tiny)."""
    per = max(1, chunk // max(1, w[0].numel()))
    shape = (-1, *([1] * (w.dim() - 1)))
    if w.device.type == "cpu" and w.dtype == torch.float32 and w.is_contiguous():
        wn, kn = w.numpy(), k.cpu().numpy()
        for i in range(0, wn.shape[0], per):
            part = wn[i:i + per]
            part[...] = part.astype(np.float64) * kn[i:i + per].reshape(shape)
        return
    for i in range(0, w.shape[0], per):
        part = w[i:i + per]
        part.copy_(part.double().mul_(k[i:i + per].view(shape)))


class FusedConv(Layer):
    """A `[convolutional]` layer with its batch norm folded in (inference only), on the same spec.

    Its input is cast to the weights' dtype, so a network may mix precisions (bf16 body, fp32
    head)."""

    def __init__(self, layer: Convolutional, inplace: bool = False, spec=None):
        super().__init__(layer.spec if spec is None else spec)
        self.activation = layer.activation
        with torch.no_grad():
            w = layer.weight.detach()
            b = layer.bias.detach()
            if not inplace:
                w, b = w.clone(), b.clone()
            if layer.batch_normalize:
                std = layer.rolling_variance.detach().double().sqrt()
                k = layer.scales.detach().double() / (std + BN_EPS)
                _scale_rows_(w, k)
                b.copy_(b.double() - layer.rolling_mean.detach().double() * k)
        self.weight = nn.Parameter(w, requires_grad=False)
        self.bias = nn.Parameter(b, requires_grad=False)
        self.leaky = layer.activation_name == "leaky"
        self.linear = layer.activation_name == "linear"
        self.packed = None   # a oneDNN context once `pack` ran (CPU inference)

    def pack(self, dtype: torch.dtype | None = None, memory_format=torch.preserve_format,
             winograd: bool = True) -> bool:
        """Hand the weights to oneDNN in its own layout, once (`darkpy.net.packed`), converted to
        `dtype` on the way (default: theirs), or (`winograd`, where `darkpy.net.winograd` says
        it pays) transform them for F(2x2, 3x3); the layer keeps a storage-less weight of that
        shape and dtype and its own copy of the bias. False where it cannot be packed: the
        layer is left as it was."""
        if self.packed is not None:
            return True
        dtype = self.weight.dtype if dtype is None else dtype
        if winograd and packed.available() and self.weight.device.type == "cpu" and wg.eligible(
                self.size, self.stride, self.padding, self.groups, self.in_shape[0], self.out_shape[0], dtype):
            self.packed = wg.Winograd3x3(self.weight, self.bias)
            self.weight = nn.Parameter(packed.storage_free(self.weight).to(dtype), requires_grad=False)
            self.bias = nn.Parameter(self.packed.bias, requires_grad=False)
            return True
        # the copy oneDNN packs from (its storage is released once packed), converted on the way
        w = self.weight.detach().to(dtype=dtype, memory_format=memory_format, copy=True)
        b = None if self.bias is None else self.bias.detach().to(dtype, copy=True)
        shape = packed.storage_free(w)
        ctx = packed.pack(w, b, self.stride, self.padding, self.groups, self.in_shape,
                          channels_last=memory_format == torch.channels_last)
        if ctx is None:
            return False
        self.packed = ctx
        self.weight = nn.Parameter(shape, requires_grad=False)
        if b is not None:
            self.bias = nn.Parameter(b, requires_grad=False)
        return True

    def __getstate__(self):
        if self.packed is not None:
            raise RuntimeError(f"layer {self.index}: its weights are packed for oneDNN (CPU inference "
                               "only) and cannot be copied or saved; build the Predictor with pack=False")
        return super().__getstate__()

    def forward(self, x: torch.Tensor, outputs=None) -> torch.Tensor:
        if x.dtype != self.weight.dtype:
            x = x.to(self.weight.dtype)
        if self.packed is not None:
            y = self.packed(x)
        else:
            y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        if self.leaky:  # in place: no second activation-sized buffer, one pass less over memory
            return F.leaky_relu_(y, 0.1)
        if self.linear:
            return y
        return self.activation(y)


def fuse(net, inplace: bool = False) -> "torch.nn.Module":
    """`net` (a darkpy Network) with batch norm folded into every convolution, in eval mode.

    By default a new network is returned and the original is left untouched (train it, save its
    weights as usual); only the convolution weights are copied (once, in float32). With
    `inplace=True` the network itself is converted and returned: nothing is copied."""
    if inplace:
        target = net
        for i, layer in enumerate(net.blocks):
            if isinstance(layer, Convolutional):
                net.blocks[i] = FusedConv(layer, inplace=True)
    else:
        memo: dict = {}  # one memo: the copied layers and the new network share the copied specs
        specs = copy.deepcopy([l.spec for l in net.blocks], memo)
        blocks = [FusedConv(l, spec=s) if isinstance(l, Convolutional) else copy.deepcopy(l, memo)
                  for l, s in zip(net.blocks, specs)]
        target = Network(copy.deepcopy(net.net), blocks, net.cfg_path)
        target.header = copy.deepcopy(net.header)
        target.last_load = net.last_load
    target.eval()
    target.requires_grad_(False)
    return target


def forward_detections(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Run `net` and return the outputs of its detection layers (region / yolo), in order.
    Without detection layers, returns the network's output alone. Detection layers always see
    float32 (their softmax/logistic and the decoded boxes keep full precision). On the CPU a
    batch goes through the first, activation-heavy layers one image at a time (`_per_image_layers`)."""
    blocks = net.blocks
    wanted = {l.index for l in net.detection_layers}
    if not wanted:
        return [net(x)]
    last = max(wanted)
    outputs: list[torch.Tensor | None] = [None] * len(blocks)
    found = []
    start = 0
    if x.device.type == "cpu" and not torch.jit.is_tracing():
        start = _per_image_layers(net, x.shape[0], last)
        if start:
            x = _image_by_image(blocks[:start], x)
    for i in range(start, last + 1):
        layer = blocks[i]
        if i in wanted and x.dtype != torch.float32:
            x = x.float()
        x = layer(x, outputs)
        if i in net._keep:
            outputs[i] = x
        if i in wanted:
            found.append(x)
    return found


PER_IMAGE_POSITIONS = 2048   # output positions per image below which a layer stays batched


def _per_image_layers(net, batch: int, last: int) -> int:
    """How many leading layers to run one image at a time, so that the activations held at once
    are smallest. A layer holds its input and its output; through the first k layers image by
    image the most held is one image's largest such pair plus the batch's output of layer k-1,
    after them the batch's largest pair. For yolov2-voc at batch 4 it is the first eight layers
    (to 52x52): 30% of the batched peak, where the first layer's output alone (416x416x32 per
    image) was most of the forward's memory. Only layers that read nothing but their input, whose
    output no later layer reads and that give each image at least `PER_IMAGE_POSITIONS` output
    positions qualify: smaller layers need the batch to keep the convolution kernels busy."""
    if batch < 2:
        return 0
    blocks = net.blocks

    def held(layer) -> int:
        return math.prod(layer.in_shape) + math.prod(layer.out_shape)

    after = [0] * (last + 2)   # after[k]: the largest pair among layers k..last
    for i in range(last, -1, -1):
        after[i] = max(after[i + 1], held(blocks[i]))
    best, best_peak = 0, batch * after[0]
    one = 0
    for k in range(last):
        layer = blocks[k]
        if (layer.sources or k in net._keep or layer.section_name in ("region", "yolo")
                or math.prod(layer.out_shape[1:]) < PER_IMAGE_POSITIONS):
            break
        one = max(one, held(layer))
        peak = max(one + batch * math.prod(layer.out_shape), batch * after[k + 1])
        if peak < best_peak:
            best, best_peak = k + 1, peak
    return best


def _image_by_image(layers, x: torch.Tensor) -> torch.Tensor:
    """`layers` run over each image of `x` in turn, written into one batch output. Nothing in
    these layers mixes images, so the numbers are the batch's up to rounding (a convolution
    kernel may be chosen by batch size: bit-identical for yolov2-voc at 416, within 3e-6 for the
    64x64 test networks), and it is 5-10% faster here (each image's maps stay in cache)."""
    out = None
    for n in range(x.shape[0]):
        y = x[n:n + 1]
        for layer in layers:
            y = layer(y, None)
        if out is None:
            cl = y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()
            out = torch.empty((x.shape[0], *y.shape[1:]), dtype=y.dtype, device=y.device,
                              memory_format=torch.channels_last if cl else torch.contiguous_format)
        out[n:n + 1].copy_(y)
        del y
    return out


@contextmanager
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fits_dtype(layer: nn.Module, dtype: torch.dtype) -> bool:
    """Whether every weight and buffer of `layer` stays finite once cast to `dtype`. Folding batch
    norm multiplies a channel by scale / (sqrt(var) + 1e-6): a channel whose variance is 0 gets
    factors near 1e6, which fp16 (max 65504) turns into inf and then NaN boxes."""
    if not dtype.is_floating_point:
        return True
    top = torch.finfo(dtype).max
    for t in list(layer.parameters(recurse=True)) + list(layer.buffers(recurse=True)):
        if t.is_floating_point() and t.numel() and t.device.type != "meta":
            low, high = torch.aminmax(t.detach())  # no weight-sized temporary; NaN passes, as with abs() > top
            if bool(high > top) or bool(low < -top):
                return False
    return True


def _head_convs(model) -> list[int]:
    """Indices of the convolutions that feed a detection layer directly (kept in fp32)."""
    heads = []
    for layer in model.detection_layers:
        j = layer.index - 1
        if j >= 0 and isinstance(model.blocks[j], (FusedConv, Convolutional)):
            heads.append(j)
    return heads


def _check_own(layer: nn.Module, buffer: np.ndarray) -> None:
    """After conversion no tensor of `layer` may still alias `buffer` (about to be reused)."""
    start = buffer.ctypes.data
    end = start + buffer.nbytes
    for t in list(layer.parameters()) + list(layer.buffers()):
        if t.device.type == "cpu" and t.numel() and start <= t.untyped_storage().data_ptr() < end:
            raise RuntimeError(f"layer {layer.index}: a tensor still aliases the weights read buffer")


class Predictor:
    """A network ready for fast batched inference.

    - `precision`: "auto" (fp16 on CUDA, fp32 on CPU), "fp32",
      "bf16", "fp16" or a torch dtype. Default (None): the historical choice, fp16 on CUDA and
      fp32 on CPU (`half` still selects fp16/fp32 when given). In reduced precision the
      convolutions feeding the detection layers and the detection layers stay in fp32;
    - `fuse_bn`: fold batch norm into the convolutions (default on);
    - `inplace`: fold into `net` itself rather than a copy (start-up cost and memory of a
      command-line run: `net` becomes inference-only);
    - `compile`: trace, freeze and optimise the network per input shape (oneDNN fused
      conv+bias+leaky, prepacked weights): measured 1.14x eager at fp32 and bf16 on 1 thread, but
      1-5 s to build, so it pays off only over many images (`--compile`);
    - `pack`: on the CPU, hand each convolution's weights to oneDNN once in its own layout
      (`darkpy.net.packed`; default on where this torch has oneDNN and `compile` is off): the
      same numbers, 1.1-1.4x faster, and the packed copy is the only one kept, so the network
      then runs on the CPU only and cannot be copied or saved;
    - `winograd`: with packing, fp32 3x3 convolutions of 128 channels or more run by F(2x2, 3x3)
      (`darkpy.net.winograd`; default on): 1.3x a yolov2-voc forward, the same numbers to
      float rounding (as close to a float64 convolution as the direct one), the transformed
      filters 16/9 the size of those layers' weights;
    - `channels_last`: NHWC activations (default on), what oneDNN and cuDNN convolve fastest.
      fp32 weights are left in their layout (oneDNN reorders them itself; a channels_last copy
      would double the weights' memory for no measured gain); reduced-precision weights are
      converted to channels_last in the same copy that changes their dtype.
    Calling it on a (B, C, H, W) float tensor in [0, 1] (or uint8 in [0, 255]) returns the detection
    layers' outputs as float32 tensors on the same device."""

    def __init__(self, net, device=None, fuse_bn: bool = True, half: bool | None = None,
                 channels_last: bool | None = None, precision=None, inplace: bool = False,
                 compile: bool = False, pack: bool | None = None, winograd: bool | None = None):
        self._settings(net, device, half, precision, channels_last, compile, pack, winograd)
        if fuse_bn:
            model = fuse(net, inplace=inplace)
        else:
            model = net if inplace else copy.deepcopy(net)
            model.eval().requires_grad_(False)
        model = model.to(self.device)
        self.kept_fp32: list[int] = []   # layers left in fp32: their folded weights overflow the dtype
        if self.dtype != torch.float32:
            keep = set(_head_convs(model)) if fuse_bn else set()
            keep |= {l.index for l in model.detection_layers}
            self.kept_fp32 = [i for i, layer in enumerate(model.blocks)
                              if i not in keep and not fits_dtype(layer, self.dtype)]
            keep |= set(self.kept_fp32)
            with _one_thread():  # many small copies: the thread pool only adds barrier waits
                self._convert(model, keep, inplace)
        elif self.device.type == "cuda":
            strict_fp32(self.device)   # fp32 is fp32: no TF32 convolutions
        if self.pack:
            with _one_thread():
                for layer in model.blocks:
                    if isinstance(layer, FusedConv):   # in the layout `_convert_layer` gave it
                        fp32 = self.dtype == torch.float32 or layer.weight.dtype != self.dtype
                        layer.pack(memory_format=self._layout(fp32), winograd=self.winograd)
        self._finish(model, net, compile)

    def _settings(self, net, device, half, precision, channels_last, compile=False, pack=None,
                  winograd=None) -> None:
        self.device = select_device(device) if device is not None else next(
            (p.device for p in net.parameters()), torch.device("cpu"))
        if precision is None:
            if half is None:
                half = self.device.type == "cuda"
            precision = "fp16" if half else "fp32"
        self.dtype = resolve_precision(precision, self.device)
        self.precision = precision_name(self.dtype)
        self.half = self.dtype == torch.float16
        self.channels_last = True if channels_last is None else bool(channels_last)
        if pack is None:
            pack = not compile
        self.pack = bool(pack) and self.device.type == "cpu" and packed.available()
        self.winograd = self.pack and (winograd is None or bool(winograd))

    def _finish(self, model, net, compile: bool) -> None:
        self.model = model
        self.net = net
        self.compile = bool(compile)
        self._compiled: dict = {}

    @property
    def _format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.preserve_format

    def _layout(self, fp32: bool) -> torch.memory_format:
        """A layer's weight layout: fp32 layers (the whole fp32 network, kept heads) keep theirs,
        converted ones take `_format`; packing records it (`darkpy.net.packed.OneDnnConv`)."""
        return torch.preserve_format if fp32 else self._format

    def _convert(self, model, keep: set[int], inplace: bool) -> None:
        for i, layer in enumerate(model.blocks):
            self._convert_layer(layer, i in keep, inplace)

    def _convert_layer(self, layer: nn.Module, keep: bool, inplace: bool) -> None:
        """`layer` in this predictor's dtype and layout, or (`keep`) in fp32 on tensors of its own."""
        if not keep:
            layer.to(dtype=self.dtype, memory_format=self._format)
        elif inplace:  # own copies, so the fp32 file buffer the rest aliased can be freed
            for t in list(layer.parameters()) + list(layer.buffers()):
                t.data = t.data.clone()

    @classmethod
    def load(cls, cfg, weights=None, *, size=None, device=None, precision=None,
             channels_last: bool | None = None, compile: bool = False,
             pack: bool | None = None, winograd: bool | None = None) -> "Predictor":
        """A predictor straight from a cfg (a path or a spec) and a Darknet weights file, its
        network loaded for it alone (folded in place, inference only; `size`, `device` as
        `load_network`). In fp32 the parameters alias the file buffer, as `load_network` loads
        them. In bf16 or fp16 each layer is read, folded (the same float64 fold), checked against
        the dtype and converted before the next is read, so the float32 body is never in memory
        beside the converted copy: a yolov2-voc bf16 start peaks ~150 MB lower. The results are
        those of `Predictor(load_network(cfg, weights), precision=..., inplace=True)`, bit for bit.
        With packed weights (`pack`, the CPU default) an fp32 network is read the same way, each
        layer packed before the next is read: the packed copy is then the only one.
        `weights` None: Darknet-style random weights, loaded as `load_network` does."""
        target = select_device(device)
        dtype = resolve_precision(precision if precision is not None else "auto", target)
        packing = (pack if pack is not None else not compile) and target.type == "cpu" and packed.available()
        if weights is None or (dtype == torch.float32 and not packing):
            self = cls(load_network(cfg, weights, size=size, device=device), device=device, precision=precision,
                       channels_last=channels_last, inplace=True, compile=compile, pack=pack,
                       winograd=winograd)
        else:
            net = parse_network(cfg, size)
            self = cls.__new__(cls)
            self._settings(net, target, None, precision, channels_last, compile, pack, winograd)
            self.kept_fp32 = self._load_converted(net, weights)
            self._finish(net, net, compile)
        release_freed_memory()   # the load's float64 folds and packing scratch (darkpy.heap)
        return self

    def _load_converted(self, net: Network, weights) -> list[int]:
        """Fill `net` from `weights` one layer at a time, each folded and converted (or kept in
        fp32, as `__init__` decides) before the next is read; returns the layers kept in fp32
        because their folded weights overflow the dtype."""
        plan = plan_weights([l.spec for l in net.blocks], weights, mmap=True, check_values=False)
        keep = set(_head_convs(net)) | {l.index for l in net.detection_layers}
        overflow: list[int] = []
        loaded: set[int] = set()
        # every core: at start-up nothing else runs, and the large layers' conversion, packing
        # and Winograd transform split well (yolov2-voc fp32 0.52 -> 0.41 s, bf16 0.31 -> 0.27 s)
        for spec, floats in read_layers(plan):
            i = spec.index
            layer = net.blocks[i]
            layer.load_darknet(WeightsReader(plan, floats))  # aliases the buffer on the CPU
            layer.to(self.device)
            if isinstance(layer, Convolutional):
                layer = net.blocks[i] = FusedConv(layer, inplace=True)
            if i not in keep and not fits_dtype(layer, self.dtype):
                overflow.append(i)
            fp32 = i in keep or i in overflow or self.dtype == torch.float32
            # packing copies the weights and bias out of the buffer, converted on the way
            # (fp32 weights keep their layout, as `_convert_layer` leaves them)
            if not (self.pack and isinstance(layer, FusedConv) and layer.pack(
                    torch.float32 if fp32 else self.dtype,
                    self._layout(fp32), winograd=self.winograd)):
                self._convert_layer(layer, fp32, inplace=True)
            _check_own(layer, floats)  # the next layer is read into the same buffer
            loaded.add(i)
        for i, layer in enumerate(net.blocks):  # the layers without weights
            if i not in loaded:
                layer.to(self.device)
                self._convert_layer(layer, i in keep, inplace=True)
        report = plan.report()
        report.path = Path(weights)
        net.header = WeightsHeader(report.header.major, report.header.minor, report.header.revision,
                                   report.header.seen)
        net.last_load = report
        net.eval()
        net.requires_grad_(False)
        return overflow

    @property
    def notes(self) -> list[str]:
        """What a user should know about this predictor's precision (printed by the commands)."""
        if not self.kept_fp32:
            return []
        layers = ", ".join(str(i) for i in self.kept_fp32)
        return [f"layer(s) {layers} kept in fp32: their batch-norm-folded weights are not finite in "
                f"{self.precision} (a channel with variance 0 divides by 1e-6)"]

    @property
    def detection_layers(self):
        """The detection layers for decoding (the float32 originals: anchors never pass through fp16)."""
        return self.net.detection_layers

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """The network input in this predictor's device, dtype and layout; uint8 pixels are scaled
        by 1/255 as Darknet does (after the dtype change, on the device)."""
        x = x.to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.compile:
            return self._call_compiled(x)
        with torch.inference_mode():
            return [o.float().contiguous() for o in forward_detections(self.model, self.prepare_input(x))]

    # -- compile=True: one traced, frozen, oneDNN-optimised graph per input shape ---------------
    def _call_compiled(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The network traced for this input shape, frozen and passed through
        `torch.jit.optimize_for_inference` (oneDNN fuses conv + bias + activation and keeps the
        weights prepacked). A smaller batch than one already traced is padded to it (the last
        batch of a folder) rather than traced again: tracing costs seconds."""
        with torch.no_grad():
            xin = self.prepare_input(x)
            n = xin.shape[0]
            key = tuple(xin.shape[1:])
            fn, size = self._compiled.get(key, (None, 0))
            if fn is None or size < n:
                fn, size = self._trace(xin), n
                self._compiled[key] = (fn, size)
            if size > n:
                xin = torch.cat([xin, xin.new_zeros((size - n, *xin.shape[1:]))])
                if self.channels_last:
                    xin = xin.contiguous(memory_format=torch.channels_last)
            return [o[:n].float().contiguous() for o in fn(xin)]

    def _trace(self, xin: torch.Tensor):
        import warnings

        class _Outputs(nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, x):
                return tuple(forward_detections(self.model, x))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes: pool padding is constant per input size
            traced = torch.jit.trace(_Outputs(self.model).eval(), xin, check_trace=False)
            frozen = torch.jit.freeze(traced)
            if self.device.type == "cpu":
                frozen = torch.jit.optimize_for_inference(frozen)
        return frozen
