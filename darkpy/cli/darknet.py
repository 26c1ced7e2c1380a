"""Darknet's command lines, rewritten into darkpy's.

`darkpy detector test DATA CFG WEIGHTS IMAGE -thresh .3` is `darkpy detect IMAGE --data DATA
--cfg CFG --weights WEIGHTS --thresh .3`: the alias commands (`darkpy.cli.commands.detector`)
translate their arguments here and run the darkpy command, so each Darknet form reaches the
same library code as its darkpy form and keeps every darkpy option (`--device`, `--json`...).

Darknet reads its single-dash flags anywhere on the line (`find_arg` removes them); so does the
translation, from the one table of every flag of both Darknets (`darkpy.cli.flags`). Flags darkpy
has no use for (`-fullscreen`, `-avg`) are dropped with a note saying why; a single-dash word that
is neither a Darknet flag nor an option of the darkpy command is an error, never read as short
options (`-dont_show` is not `-d ont_show`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from darkpy.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Form:
    """One Darknet subcommand: its positionals (in Darknet's order) and flags."""

    darknet: str                   # `detector test DATA CFG WEIGHTS [IMAGE]`, for help and errors
    command: tuple[str, ...]       # darkpy command path
    positionals: tuple[str, ...]   # names; a trailing `?` marks an optional one
    build: Callable[[dict], list[str]]

    @property
    def required(self) -> int:
        return sum(1 for p in self.positionals if not p.endswith("?"))


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


DETECTOR: dict[str, Form] = {
    "train": Form("detector train DATA CFG [WEIGHTS]", ("train",), ("data", "cfg", "weights?"), _train),
    "test": Form("detector test DATA CFG WEIGHTS [IMAGE]", ("detect",), ("data", "cfg", "weights", "image?"),
                 _test),
    "valid": Form("detector valid DATA CFG WEIGHTS", ("valid",), ("data", "cfg", "weights"), _three),
    "recall": Form("detector recall DATA CFG WEIGHTS", ("recall",), ("data", "cfg", "weights"), _three),
    "map": Form("detector map DATA CFG WEIGHTS", ("map",), ("data", "cfg", "weights"), _three),
    "demo": Form("detector demo DATA CFG WEIGHTS [VIDEO]", ("detect",), ("data", "cfg", "weights", "video?"),
                 _demo),
    "calc_anchors": Form("detector calc_anchors DATA", ("kmeans",), ("data",), lambda p: ["--data", p["data"]]),
}


def is_flag_word(text: str) -> bool:
    """A single-dash word such as `-dont_show`: Darknet's kind of flag, never a bundle of short
    options (`-d ont_show`). Two-letter `-d` and negative numbers are not words."""
    return (len(text) > 2 and text[0] == "-" and text[1] != "-" and (text[1].isalpha() or text[1] == "_")
            and not _is_number(text))


def translate(form: Form, args: Sequence[str], option_arity: dict[str, int],
              note: Callable[[str], None] = lambda s: None) -> list[str]:
    """darkpy argv (command path included) for Darknet-ordered `args`.

    Darknet's flags are rewritten first, by the table of `darkpy.cli.flags` (so `-c 1` is demo's
    camera even though `detect -c` is --cfg). `option_arity` maps each darkpy option of the target
    command to the number of values it takes, so `--size 320` passes through whole and its value
    is not taken for a positional."""
    from darkpy.cli.flags import translate_flags

    verb = next(k for k, v in DETECTOR.items() if v is form)
    args = translate_flags("detector", verb, list(args), option_arity, note)
    positionals: list[str] = []
    options: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") or (a.startswith("-") and len(a) > 1 and not _is_number(a)):
            name = a.split("=", 1)[0]
            if is_flag_word(name) and name not in option_arity:
                raise UsageError(f"{form.darknet}: {name} is neither a Darknet flag (docs/darknet-to-darkpy.md) "
                                 f"nor an option of `darkpy {' '.join(form.command)}`")
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


def darknet_group_class():
    """A typer group class whose verbs take Darknet's flags of `family` anywhere on the line
    (`darkpy classifier train DATA CFG -clear -dont_show`): they are rewritten by the table of
    `darkpy.cli.flags` before the verb's own options are parsed."""
    from typer.core import TyperGroup

    class DarknetGroup(TyperGroup):
        family = "classifier"

        def parse_args(self, ctx, args):
            if args and args[0] in self.commands:
                from darkpy.cli.flags import translate_flags

                verb = args[0]
                arity = option_arity(self.commands[verb])
                args = [verb, *translate_flags(self.family, verb, list(args[1:]), arity,
                                               note=lambda s: print(f"darkpy: {s}", file=sys.stderr))]
            return super().parse_args(ctx, args)

    return DarknetGroup
