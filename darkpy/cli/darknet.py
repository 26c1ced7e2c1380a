"""Darknet's command lines, rewritten into darkpy's.

`darkpy detector test DATA CFG WEIGHTS IMAGE -thresh .3` is `darkpy detect IMAGE --data DATA
--cfg CFG --weights WEIGHTS --thresh .3`: the alias commands (`darkpy.cli.commands.detector`)
translate their arguments here and run the darkpy command, so each Darknet form reaches the
same library code as its darkpy form and keeps every darkpy option (`--device`, `--json`...).

Darknet reads its single-dash flags anywhere on the line (`find_arg` removes them); so does the
translation. Flags Darknet has but darkpy has no use for (`-fullscreen`, `-avg`) are dropped
with a note; unknown ones reach the darkpy command, which names them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from darkpy.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Flag:
    darkpy: Optional[str]          # None: accepted and ignored
    value: bool = True             # takes a value
    convert: Optional[Callable[[str], str]] = None


@dataclass(frozen=True)
class Form:
    """One Darknet subcommand: its positionals (in Darknet's order) and flags."""

    darknet: str                   # `detector test DATA CFG WEIGHTS [IMAGE]`, for help and errors
    command: tuple[str, ...]       # darkpy command path
    positionals: tuple[str, ...]   # names; a trailing `?` marks an optional one
    build: Callable[[dict], list[str]]
    flags: dict = field(default_factory=dict)

    @property
    def required(self) -> int:
        return sum(1 for p in self.positionals if not p.endswith("?"))


def _out_image(value: str) -> str:
    # Darknet's -out names the picture without its extension and adds .jpg
    return value if value.lower().endswith(IMAGE_SUFFIXES) else value + ".jpg"


def _test(p: dict) -> list[str]:
    image = p.get("image")
    if image is None:
        if sys.stdin.isatty():
            raise UsageError("detector test: give an IMAGE after WEIGHTS (Darknet asks for one interactively; "
                             "darkpy takes paths as arguments, or a list on stdin)")
        image = "-"
    return [image, "--data", p["data"], "--cfg", p["cfg"], "--weights", p["weights"]]


def _demo(p: dict) -> list[str]:
    out = ["--data", p["data"], "--cfg", p["cfg"], "--weights", p["weights"]]
    return out + (["--source", p["video"]] if p.get("video") else [])


def _with_camera(argv: list[str]) -> list[str]:
    # Darknet's demo without a video file opens camera -c (default 0)
    return argv if "--source" in argv else argv + ["--source", "0"]


def _train(p: dict) -> list[str]:
    out = [p["cfg"], "--data", p["data"]]
    return out + (["--weights", p["weights"]] if p.get("weights") else [])


def _three(p: dict) -> list[str]:
    return [p["data"], p["cfg"], p["weights"]]


_IGNORED = Flag(None, value=False)
_IGNORED_VALUE = Flag(None, value=True)
_DETECT = {"-thresh": Flag("--thresh"), "-hier": Flag("--hier-thresh"), "-out": Flag("--out", convert=_out_image),
           "-fullscreen": _IGNORED, "-i": _IGNORED_VALUE, "-nogpu": _IGNORED}
_TRAIN = {"-gpus": Flag("--gpus"), "-clear": Flag("--clear", value=False), "-i": _IGNORED_VALUE,
          "-nogpu": _IGNORED}

DETECTOR: dict[str, Form] = {
    "train": Form("detector train DATA CFG [WEIGHTS]", ("train",), ("data", "cfg", "weights?"), _train, _TRAIN),
    "test": Form("detector test DATA CFG WEIGHTS [IMAGE]", ("detect",), ("data", "cfg", "weights", "image?"),
                 _test, _DETECT),
    "valid": Form("detector valid DATA CFG WEIGHTS", ("valid",), ("data", "cfg", "weights"), _three,
                  {"-out": Flag("--prefix"), "-i": _IGNORED_VALUE, "-nogpu": _IGNORED}),
    "recall": Form("detector recall DATA CFG WEIGHTS", ("recall",), ("data", "cfg", "weights"), _three,
                   {"-i": _IGNORED_VALUE, "-nogpu": _IGNORED}),
    "map": Form("detector map DATA CFG WEIGHTS", ("map",), ("data", "cfg", "weights"), _three,
                {"-thresh": Flag("--thresh"), "-iou_thresh": Flag("--iou-thresh"), "-i": _IGNORED_VALUE,
                 "-nogpu": _IGNORED}),
    "demo": Form("detector demo DATA CFG WEIGHTS [VIDEO]", ("detect",), ("data", "cfg", "weights", "video?"),
                 _demo, {"-thresh": Flag("--thresh"), "-hier": Flag("--hier-thresh"), "-c": Flag("--source"),
                         "-out": Flag("--out"), "-out_filename": Flag("--out"), "-prefix": _IGNORED_VALUE,
                         "-avg": _IGNORED_VALUE, "-s": _IGNORED_VALUE, "-w": _IGNORED_VALUE,
                         "-h": _IGNORED_VALUE, "-fps": _IGNORED_VALUE, "-fullscreen": _IGNORED,
                         "-dont_show": Flag("--no-show", value=False), "-i": _IGNORED_VALUE,
                         "-nogpu": _IGNORED, "-mjpeg_port": Flag("--mjpeg-port"),
                         "-json_port": Flag("--json-port")}),
    "calc_anchors": Form("detector calc_anchors DATA", ("kmeans",), ("data",), lambda p: ["--data", p["data"]],
                         {"-num_of_clusters": Flag("--k"), "-width": Flag("--width"),
                          "-height": Flag("--height"), "-show": _IGNORED}),
}

CLASSIFIER_FLAGS = {"-gpus": "--gpus", "-clear": "--clear", "-t": "--top"}


def translate(form: Form, args: Sequence[str], option_arity: dict[str, int],
              note: Callable[[str], None] = lambda s: None) -> list[str]:
    """darkpy argv (command path included) for Darknet-ordered `args`.

    `option_arity` maps each darkpy option of the target command to the number of values it takes,
    so `--size 320` passes through whole and its value is not taken for a positional."""
    positionals: list[str] = []
    options: list[str] = []
    args = list(args)
    i = 0
    while i < len(args):
        a = args[i]
        if a in form.flags:
            flag = form.flags[a]
            value = None
            if flag.value:
                if i + 1 >= len(args):
                    raise UsageError(f"{a} needs a value ({form.darknet})")
                value = args[i + 1]
                i += 1
            if flag.darkpy is None:
                note(f"{a} is Darknet-only; ignored")
            else:
                options.append(flag.darkpy)
                if value is not None:
                    options.append(flag.convert(value) if flag.convert else value)
            i += 1
            continue
        if a.startswith("--") or (a.startswith("-") and len(a) > 1 and a not in ("-",)
                                  and not _is_number(a)):
            name = a.split("=", 1)[0]
            n = 0 if "=" in a else option_arity.get(name, 0)
            options.extend(args[i:i + 1 + n])
            i += 1 + n
            continue
        positionals.append(a)
        i += 1
    names = [p.rstrip("?") for p in form.positionals]
    if len(positionals) < form.required:
        missing = " ".join(n.upper() for n in names[len(positionals):form.required])
        raise UsageError(f"{form.darknet}: missing {missing}")
    extra: list[str] = []
    if len(positionals) > len(names):
        if form.command != ("detect",) or names[-1] != "image":
            raise UsageError(f"{form.darknet}: unexpected {' '.join(positionals[len(names):])}")
        extra = positionals[len(names):]  # darkpy takes several images where Darknet takes one
    values = dict(zip(names, positionals))
    if form.command == ("detect",) and "video" in names and "--source" in options and values.get("video"):
        raise UsageError(f"{form.darknet}: give a VIDEO or -c CAMERA, not both")
    argv = [*form.command, *form.build(values), *extra, *options]
    return _with_camera(argv) if form.build is _demo else argv


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def option_arity(command) -> dict[str, int]:
    """Values each option of a click/typer command takes (0 for flags)."""
    out: dict[str, int] = {}
    for p in getattr(command, "params", []):
        if getattr(p, "param_type_name", "") != "option":
            continue
        n = 0 if (getattr(p, "is_flag", False) or getattr(p, "count", False)) else max(1, p.nargs)
        for o in list(p.opts) + list(getattr(p, "secondary_opts", [])):
            out[o] = n
    return out
