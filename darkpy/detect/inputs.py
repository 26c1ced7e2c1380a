"""Which network, weights, class names and images a detection command means.

Darknet users type `darknet detect CFG WEIGHTS IMAGE` and `darknet detector test DATA CFG
WEIGHTS IMAGE`; darkpy's own form is `darkpy detect IMAGE... --cfg CFG --weights W`. All three
arrive here and leave as one `DetectInputs`, so no form can pair a cfg with weights the user
never named or take a cfg for an image:

- positionals are sorted by what they are: `.cfg` -> the network, `.weights` / `.backup` /
  Darknet's partial names (`*.conv.23`) -> the weights, `.data` -> class names; in Darknet's
  order the argument after a cfg is its weights whatever its name. The rest are images.
- `--model NAME` takes a published model by name (`darkpy weights list`): the bundled cfg and
  names, the weights found in `darkpy.net.published.search_dirs`.
- nothing at all -> the bundled demo model (3 synthetic shapes), with a banner saying so. It is
  not refused on real photos: no test can tell a photo from a synthetic image reliably, and the
  banner names the model on every run (decision recorded in docs/weights.md).
- a cfg without weights is an error naming both; untrained weights need `--random-weights`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from darkpy.assets import asset
from darkpy.errors import UsageError
from darkpy.formats.datafile import read_names
from darkpy.net.published import CATALOG, find_published, search_dirs
from darkpy.net.spec import NetworkSpec, read_spec

DEMO_CFG = asset("cfg/demo.cfg")
DEMO_WEIGHTS = asset("data/demo/demo.weights")
DEMO_NAMES = asset("data/demo/demo.names")
DEMO_BANNER = ("bundled demo model: 3 synthetic shapes; for real objects use --cfg/--weights, "
               "see docs/weights.md")

_WEIGHTS_NAME = re.compile(r"\.(weights|backup)$|\.conv\.\d+$", re.IGNORECASE)


@dataclass
class DetectInputs:
    cfg: Path
    weights: Optional[Path]          # None only with random_weights
    images: list[str]
    data: Optional[Path] = None      # a .data file whose names= gives class names
    names: Optional[Path] = None
    demo: bool = False               # the bundled demo model
    banner: Optional[str] = None     # what to print on stderr before running
    notes: list[str] = field(default_factory=list)
    spec: Optional[NetworkSpec] = None  # the cfg, once read (`network_spec`)

    def network_spec(self, size: Optional[int] = None) -> NetworkSpec:
        """The cfg's layer specs, read once for the whole command (at `size` when given)."""
        if self.spec is None:
            self.spec = read_spec(self.cfg)
        if size is not None and (self.spec.net.width, self.spec.net.height) != (size, size):
            self.spec.resize(size)
        return self.spec


def is_cfg(arg: str) -> bool:
    return arg.lower().endswith(".cfg")


def is_weights(arg: str) -> bool:
    return bool(_WEIGHTS_NAME.search(arg))


def is_data(arg: str) -> bool:
    return arg.lower().endswith(".data")


def split_positionals(args: Sequence[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(cfgs, weights, datas, images) from positionals in any of the accepted orders."""
    cfgs: list[str] = []
    weights: list[str] = []
    datas: list[str] = []
    images: list[str] = []
    after_cfg = False
    for arg in args:
        if is_cfg(arg):
            cfgs.append(arg)
            after_cfg = True
            continue
        if is_data(arg):
            datas.append(arg)
        elif is_weights(arg) or (after_cfg and not weights and Path(arg).is_file()
                                 and not _looks_like_image(arg)):
            weights.append(arg)
        else:
            images.append(arg)
        after_cfg = False
    return cfgs, weights, datas, images


def _looks_like_image(arg: str) -> bool:
    return Path(arg).suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                                        ".ppm", ".pgm", ".txt"}


def _one(kind: str, positional: list[str], option: Optional[Path], flag: str) -> Optional[Path]:
    if len(positional) > 1:
        raise UsageError(f"{len(positional)} {kind} files given ({', '.join(positional)}): give one")
    if positional and option is not None:
        raise UsageError(f"{kind} given twice: {positional[0]} and {flag} {option}")
    return Path(positional[0]) if positional else option


def resolve_model(name: str, weights_dir: Optional[Path] = None) -> tuple[Path, Path, Optional[Path]]:
    """(cfg, weights, names) of a published model by name, searching the weights folders."""
    if name == "demo":
        return DEMO_CFG, DEMO_WEIGHTS, DEMO_NAMES
    entry = find_published(name)
    if entry is None:
        known = ", ".join(p.name for p in CATALOG if p.names and p.upto is None)
        raise UsageError(f"--model {name}: unknown model (known: demo, {known}; see `darkpy weights list`)")
    dirs = search_dirs(weights_dir)
    for d in dirs:
        if (d / entry.file).is_file():
            return entry.cfg_path(), d / entry.file, entry.names_path()
    where = ", ".join(str(d) for d in dirs)
    raise UsageError(f"--model {name}: {entry.file} not found in {where}; get it with "
                     f"`darkpy weights download {entry.name}`")


def names_for_cfg(inputs: DetectInputs) -> Optional[Path]:
    """Class names of the published model whose cfg has this file name (`yolov2-voc.cfg` ->
    data/voc.names), when the cfg's detection layers have exactly that many classes. Darknet's
    `detect` always took coco names; a VOC cfg then printed COCO labels. A broken cfg is
    reported here, by the spec stage, with its file and line."""
    cfg = inputs.cfg
    entry = next((p for p in CATALOG if p.names and p.upto is None and Path(p.cfg).name == Path(cfg).name), None)
    path = entry.names_path() if entry is not None else DEMO_NAMES if Path(cfg).name == DEMO_CFG.name else None
    if path is None or not path.is_file():
        return None
    return path if inputs.network_spec().classes == len(read_names(path)) else None


def resolve_detect_inputs(
    positionals: Sequence[str] = (),
    *,
    cfg: Optional[Path] = None,
    weights: Optional[Path] = None,
    data: Optional[Path] = None,
    names: Optional[Path] = None,
    model: Optional[str] = None,
    random_weights: bool = False,
    weights_dir: Optional[Path] = None,
    need_images: bool = True,
) -> DetectInputs:
    """Sort out cfg / weights / names / images from any accepted form (see module doc)."""
    cfgs, wts, datas, images = split_positionals(list(positionals))
    cfg = _one("cfg", cfgs, cfg, "--cfg")
    weights = _one("weights", wts, weights, "--weights")
    data = _one(".data", datas, data, "--data")
    if data is not None and names is not None:
        raise UsageError("give --data or --names, not both")
    if need_images and not images:
        raise UsageError("no image given (cfg, weights and .data were recognised by their names; images are "
                         "files, folders, globs, .txt lists or -)")
    notes: list[str] = []
    if model is not None:
        if weights is not None and Path(weights).is_dir():  # `--model NAME --weights DIR`: look there first
            weights_dir, weights = Path(weights), None
        if cfg is not None or weights is not None:
            raise UsageError("--model NAME picks cfg and weights itself: leave out --cfg/--weights "
                         "(--weights DIR names a folder to look in)")
        cfg, weights, model_names = resolve_model(model, weights_dir)
        if data is None and names is None:
            names = model_names
        return DetectInputs(cfg, weights, images, data, names, demo=model == "demo", notes=notes)
    if cfg is None and weights is None:
        if random_weights:
            raise UsageError("--random-weights needs --cfg (the network to fill with random values)")
        if not (DEMO_CFG.is_file() and DEMO_WEIGHTS.is_file()):
            raise UsageError("--cfg and --weights are required (the bundled demo model is not installed)")
        if data is None and names is None:
            names = DEMO_NAMES
        return DetectInputs(DEMO_CFG, DEMO_WEIGHTS, images, data, names, demo=True, banner=DEMO_BANNER)
    if cfg is None:
        raise UsageError(f"--weights {weights} given without --cfg: name the .cfg those weights belong to")
    if weights is None:
        if not random_weights:
            raise UsageError(f"--cfg {cfg} given without --weights: name its .weights file "
                             f"(`darkpy weights list` says where Darknet's are), or add --random-weights "
                             f"for an untrained network")
        notes.append(f"warning: {cfg}: random weights (--random-weights): the detections mean nothing")
    elif random_weights:
        raise UsageError("--random-weights and --weights exclude each other")
    inputs = DetectInputs(cfg, weights, images, data, names, notes=notes)
    if data is None and names is None and Path(cfg).is_file():
        inputs.names = names_for_cfg(inputs)
        if inputs.names is not None:
            notes.append(f"class names from {inputs.names} (the published {Path(cfg).stem} model's; "
                         f"--names/--data to choose others)")
    return inputs
