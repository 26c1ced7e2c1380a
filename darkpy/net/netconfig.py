"""The `[net]` section: input geometry, optimiser, schedule and augmentation settings."""
from __future__ import annotations

from dataclasses import dataclass, field

from darkpy.errors import CfgError
from darkpy.net.cfg import Section

POLICIES = ("constant", "step", "steps", "exp", "poly", "sig", "sigmoid", "random")


@dataclass
class NetConfig:
    batch: int = 1                  # images per optimiser step, as written in the cfg
    subdivisions: int = 1           # the batch is split into this many forward/backward passes
    width: int = 0
    height: int = 0
    channels: int = 0
    inputs: int = 0
    learning_rate: float = 0.001
    momentum: float = 0.9
    decay: float = 0.0001
    policy: str = "constant"
    burn_in: int = 0
    power: float = 4.0
    max_batches: int = 0
    step: int = 1
    scale: float = 1.0
    gamma: float = 1.0
    steps: list[int] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    angle: float = 0.0
    aspect: float = 1.0
    saturation: float = 1.0
    exposure: float = 1.0
    hue: float = 0.0
    max_crop: int = 0
    min_crop: int = 0
    center: int = 0
    label_smooth_eps: float = 0.0   # classification label smoothing (AlexeyAB's key)
    loss_scale: float = 1.0         # fp16 training's first loss scale (AlexeyAB's key; `--amp` on CUDA)
    clip: float = 0.0
    time_steps: int = 1
    notruth: int = 0
    adam: int = 0
    B1: float = 0.9
    B2: float = 0.999
    eps: float = 1e-7
    line: int = 0
    channels_line: int = 0          # where `channels=` is written (0: not written)
    batch_line: int = 0             # line of the `batch=` key (0: absent), for messages about it

    def check_image_channels(self, file, *, detector: bool) -> None:
        """The channel count must be what the image loader gives: detection loads colour images
        (3 channels, as Darknet's detector does); a classifier loads colour or, for `channels=1`,
        grayscale images (Darknet's `load_image(path, 0, 0, net.c)`). Anything else would stop in
        the first convolution with a tensor-shape traceback."""
        allowed = (3,) if detector else (1, 3)
        if self.channels not in allowed:
            what = ("detection loads 3-channel (colour) images" if detector else
                    "a classifier loads 3-channel (colour) or, with channels=1, grayscale images")
            raise CfgError(f"[net]: channels={self.channels}, but {what}", file=file,
                           line=self.channels_line or self.line)

    @property
    def mini_batch(self) -> int:
        """Images per forward pass: Darknet's `net->batch` (batch / subdivisions)."""
        return max(1, self.batch // max(1, self.subdivisions))

    @classmethod
    def from_section(cls, s: Section) -> "NetConfig":
        c = cls(line=s.line, batch_line=s.options["batch"].line if s.has("batch") else 0)
        _read_plain(c, s, "batch", "subdivisions")
        if c.batch < 1 or c.subdivisions < 1:
            raise s.error("'batch' and 'subdivisions' must be at least 1", "batch")
        _read_plain(c, s, "time_steps", "notruth", "learning_rate", "momentum", "decay", "adam",
                    "B1", "B2", "eps", "height", "width", "channels")
        c.channels_line = s.options["channels"].line if s.has("channels") else 0
        c.inputs = s.int("inputs", c.height * c.width * c.channels)
        c.max_crop = s.int("max_crop", c.width * 2)
        c.min_crop = s.int("min_crop", c.width)
        _read_plain(c, s, "center", "label_smooth_eps")
        if not 0 <= c.label_smooth_eps < 1:
            raise s.error("'label_smooth_eps' must be in [0, 1)", "label_smooth_eps")
        _read_plain(c, s, "loss_scale")
        if not c.loss_scale > 0:
            raise s.error("'loss_scale' must be positive", "loss_scale")
        _read_plain(c, s, "clip", "angle", "aspect", "saturation", "exposure", "hue")
        if not c.inputs and not (c.height and c.width and c.channels):
            raise s.error("no input size: give width, height and channels (or inputs)")
        c.policy = (s.str("policy", "constant") or "constant").lower()
        if c.policy not in POLICIES:
            raise s.error(f"unknown policy '{c.policy}' (one of {', '.join(POLICIES)})", "policy")
        _read_plain(c, s, "burn_in", "power", "step", "scale", "gamma")
        c.steps = s.ints("steps", [])
        c.scales = s.floats("scales", [])
        if c.policy == "steps" and len(c.steps) != len(c.scales):
            raise s.error(f"'steps' has {len(c.steps)} values but 'scales' has {len(c.scales)}", "scales")
        _read_plain(c, s, "max_batches")
        s.check_all_used()
        return c


def _read_plain(c: NetConfig, s: Section, *keys: str) -> None:
    """Read keys whose cfg default is the dataclass default, typed by that default (int or
    float), so each default is written once."""
    for key in keys:
        default = getattr(c, key)
        setattr(c, key, s.int(key, default) if isinstance(default, int) else s.float(key, default))
