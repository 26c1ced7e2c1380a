"""The `[net]` section: input geometry, optimiser, schedule and augmentation settings."""
from __future__ import annotations

from dataclasses import dataclass, field

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
    clip: float = 0.0
    time_steps: int = 1
    notruth: int = 0
    adam: int = 0
    B1: float = 0.9
    B2: float = 0.999
    eps: float = 1e-7
    line: int = 0

    @property
    def mini_batch(self) -> int:
        """Images per forward pass: Darknet's `net->batch` (batch / subdivisions)."""
        return max(1, self.batch // max(1, self.subdivisions))

    @classmethod
    def from_section(cls, s: Section) -> "NetConfig":
        c = cls(line=s.line)
        c.batch = s.int("batch", 1)
        c.subdivisions = s.int("subdivisions", 1)
        if c.batch < 1 or c.subdivisions < 1:
            raise s.error("'batch' and 'subdivisions' must be at least 1", "batch")
        c.time_steps = s.int("time_steps", 1)
        c.notruth = s.int("notruth", 0)
        c.learning_rate = s.float("learning_rate", 0.001)
        c.momentum = s.float("momentum", 0.9)
        c.decay = s.float("decay", 0.0001)
        c.adam = s.int("adam", 0)
        c.B1 = s.float("B1", 0.9)
        c.B2 = s.float("B2", 0.999)
        c.eps = s.float("eps", 1e-7)
        c.height = s.int("height", 0)
        c.width = s.int("width", 0)
        c.channels = s.int("channels", 0)
        c.inputs = s.int("inputs", c.height * c.width * c.channels)
        c.max_crop = s.int("max_crop", c.width * 2)
        c.min_crop = s.int("min_crop", c.width)
        c.center = s.int("center", 0)
        c.label_smooth_eps = s.float("label_smooth_eps", 0.0)
        if not 0 <= c.label_smooth_eps < 1:
            raise s.error("'label_smooth_eps' must be in [0, 1)", "label_smooth_eps")
        c.clip = s.float("clip", 0.0)
        c.angle = s.float("angle", 0.0)
        c.aspect = s.float("aspect", 1.0)
        c.saturation = s.float("saturation", 1.0)
        c.exposure = s.float("exposure", 1.0)
        c.hue = s.float("hue", 0.0)
        if not c.inputs and not (c.height and c.width and c.channels):
            raise s.error("no input size: give width, height and channels (or inputs)")
        c.policy = (s.str("policy", "constant") or "constant").lower()
        if c.policy not in POLICIES:
            raise s.error(f"unknown policy '{c.policy}' (one of {', '.join(POLICIES)})", "policy")
        c.burn_in = s.int("burn_in", 0)
        c.power = s.float("power", 4.0)
        c.step = s.int("step", 1)
        c.scale = s.float("scale", 1.0)
        c.gamma = s.float("gamma", 1.0)
        c.steps = s.ints("steps", [])
        c.scales = s.floats("scales", [])
        if c.policy == "steps" and len(c.steps) != len(c.scales):
            raise s.error(f"'steps' has {len(c.steps)} values but 'scales' has {len(c.scales)}", "scales")
        c.max_batches = s.int("max_batches", 0)
        s.check_all_used()
        return c
