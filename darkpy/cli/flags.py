"""Every single-dash flag of Darknet's `detector` and `classifier` commands, in one table.

Both Darknets read their flags with `find_arg` / `find_int_arg` / `find_float_arg` /
`find_char_arg` (pjreddie: examples/detector.c, examples/classifier.c, examples/darknet.c;
AlexeyAB: src/detector.c, src/classifier.c, src/darknet.c). Those functions look for the whole
word anywhere on the line and remove it, so every flag is accepted by every verb of its family,
and each verb uses the ones it needs. darkpy does the same: `FLAGS` says, per flag, what it means,
which Darknet reads it, and for each verb that uses it the darkpy option it becomes or why darkpy
ignores it. A flag given to a verb that does not use it is dropped with a note, as Darknet drops it
silently. `VERBS` accounts for each verb: the darkpy command it runs, or why there is none.

tests/cli/test_darknet_flags.py walks the table: every flag parses for every verb, and each
darkpy option it names exists on the command it reaches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from darkpy.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
PJ, AB, BOTH = "pjreddie", "AlexeyAB", "pjreddie, AlexeyAB"


@dataclass(frozen=True)
class DarknetFlag:
    """One Darknet flag. `takes`: "" for an on/off flag, else the type of its value (int, float,
    text). `uses`: verb -> darkpy option (`--thresh`; a fixed value may follow: `--device cpu`) or
    None where darkpy has no use for it (then `why` says why). `convert`: verb -> function from
    Darknet's value to darkpy's argv words, where the value needs rewriting."""

    name: str
    family: str                       # "detector" or "classifier"
    takes: str
    meaning: str
    source: str
    uses: dict = field(default_factory=dict)
    why: str = ""
    convert: dict = field(default_factory=dict)
    fallback: str = ""                # reason used when the darkpy option is not on the target command

    @property
    def value(self) -> bool:
        return bool(self.takes)


def _out_image(value: str) -> list[str]:
    # pjreddie's -out names the picture without its extension (it adds .jpg); AlexeyAB's -out
    # names the JSON file of results for a list of images
    if value.lower().endswith(".json"):
        return ["--json-out", value]
    return ["--out", value if value.lower().endswith(IMAGE_SUFFIXES) else value + ".jpg"]


def _points(value: str) -> list[str]:
    metric = {"0": "voc", "11": "voc07", "101": "coco"}.get(value.strip())
    if metric is None:
        raise UsageError(f"-points {value}: AlexeyAB's map takes 0 (area, VOC2010+), 11 (VOC2007) or 101 "
                         "(COCO's interpolation)")
    return ["--metric", metric]


def _camera(value: str) -> list[str]:
    return ["--source", value]


NO_WINDOW = "darkpy opens no window here (images and charts are written to files)"
GPU_INDEX = "darkpy picks its device with --device (cpu, cuda, cuda:N)"


def _d(name, takes, meaning, source, uses=None, why="", convert=None, fallback="") -> DarknetFlag:
    return DarknetFlag(name, "detector", takes, meaning, source, dict(uses or {}), why, dict(convert or {}),
                       fallback)


def _c(name, takes, meaning, source, uses=None, why="", convert=None, fallback="") -> DarknetFlag:
    return DarknetFlag(name, "classifier", takes, meaning, source, dict(uses or {}), why, dict(convert or {}),
                       fallback)


def _everywhere(family: str, option: Optional[str]) -> dict:
    return {v: option for v in VERBS[family] if VERBS[family][v][0] is not None}


# verb -> (darkpy command path, or None; what it is / why there is none)
VERBS: dict[str, dict[str, tuple[Optional[tuple[str, ...]], str]]] = {
    "detector": {
        "train": (("train",), "train a detector"),
        "test": (("detect",), "detect objects in an image (or a list on stdin)"),
        "valid": (("valid",), "write result files for the valid list"),
        "recall": (("recall",), "recall and IoU over the valid list"),
        "map": (("map",), "mAP over the valid list (AlexeyAB)"),
        "demo": (("detect",), "video or webcam"),
        "calc_anchors": (("kmeans",), "k-means anchors (AlexeyAB)"),
        "valid2": (None, "pjreddie's flipped-image valid (left commented out of its usage): darkpy offers the "
                         "plain `valid`"),
        "draw": (None, "AlexeyAB's interactive box editor needs a window and CUDA; darkpy has no GUI"),
    },
    "classifier": {
        "train": (("classifier", "train"), "train a classifier"),
        "valid": (("classifier", "valid"), "top-1/top-k over the valid list"),
        "predict": (("classifier", "predict"), "top classes of images"),
        "label": (("classifier", "label"), "best class of every test= image"),
        "validmulti": (None, "darkpy: `classifier valid --mode multi`"),
        "valid10": (None, "darkpy: `classifier valid --mode ten`"),
        "validcrop": (None, "darkpy: `classifier valid --mode resize`"),
        "validfull": (None, "full-image valid at the image's own size; darkpy validates at the cfg's size"),
        "try": (None, "prints one layer's activations (a debugging aid)"),
        "demo": (None, "webcam classification with a window; darkpy has no GUI"),
        "gun": (None, "a webcam demo for one class; darkpy has no GUI"),
        "threat": (None, "a webcam demo for one class; darkpy has no GUI"),
        "test": (None, "prints one layer's outputs for the test list (a debugging aid)"),
        "csv": (None, "pjreddie: class probabilities as CSV; darkpy: `classifier predict --top N`"),
        "fout": (None, "pjreddie: writes probabilities to a file; darkpy: `classifier predict --top N`"),
    },
}

FLAGS: list[DarknetFlag] = [
    # -- darknet.c: read before the command --------------------------------------------------
    _d("-i", "int", "GPU index", BOTH, _everywhere("detector", None), GPU_INDEX),
    _d("-nogpu", "", "run on the CPU", PJ, _everywhere("detector", "--device cpu"),
       fallback="this darkpy command runs on the CPU anyway"),
    _d("-cuda_debug_sync", "", "synchronise CUDA after each kernel (debugging)", AB,
       _everywhere("detector", None), "a CUDA debugging switch of Darknet's own kernels"),
    # -- detector ---------------------------------------------------------------------------------
    _d("-thresh", "float", "probability threshold (test/demo), score cut for map's summary", BOTH,
       {"test": "--thresh", "demo": "--thresh", "map": "--thresh", "train": None, "draw": None},
       "training's -map evaluation uses map's own threshold (.25) in darkpy"),
    _d("-hier", "float", "WordTree threshold", BOTH, {"test": "--hier-thresh", "demo": "--hier-thresh"}),
    _d("-out", "text", "test: output picture (pjreddie) or JSON results (AlexeyAB); valid: result prefix", BOTH,
       {"test": "--out", "valid": "--prefix", "demo": "--out"}, convert={"test": _out_image}),
    _d("-prefix", "text", "demo: save each frame as PREFIX_%08d.jpg", BOTH, {"demo": None},
       "darkpy writes one video file (--out) rather than numbered frames"),
    _d("-c", "int", "camera index", BOTH, {"demo": "--source"}, convert={"demo": _camera}),
    _d("-s", "int", "demo: frames to skip", BOTH, {"demo": None}, "darkpy runs every frame"),
    _d("-avg", "int", "demo: frames averaged (pjreddie)", PJ, {"demo": None},
       "darkpy draws each frame's own detections (no running average)"),
    _d("-avgframes", "int", "demo: frames averaged (AlexeyAB)", AB, {"demo": None},
       "darkpy draws each frame's own detections (no running average)"),
    _d("-gpus", "text", "GPUs to train on (0,1,2)", BOTH, {"train": "--gpus"}),
    _d("-clear", "", "reset the images-seen counter", BOTH, {"train": "--clear"}),
    _d("-fullscreen", "", "full-screen window", PJ, {"test": None, "demo": None}, NO_WINDOW),
    _d("-w", "int", "demo: camera width", PJ, {"demo": None}, "darkpy keeps the camera's own frame size"),
    _d("-h", "int", "demo: camera height", PJ, {"demo": None}, "darkpy keeps the camera's own frame size"),
    _d("-fps", "int", "demo: camera frame rate", PJ, {"demo": None}, "darkpy keeps the camera's own frame rate"),
    _d("-dont_show", "", "no window", AB, {"test": None, "train": None, "demo": "--no-show", "draw": None},
       NO_WINDOW),
    _d("-benchmark", "", "demo: time the network without drawing", AB, {"demo": None},
       "`darkpy benchmark CFG` times the network"),
    _d("-benchmark_layers", "", "time each layer", AB,
       {"test": None, "train": None, "demo": None, "draw": None}, "`darkpy benchmark CFG` times the network"),
    _d("-show", "", "calc_anchors: draw the clusters", AB, {"calc_anchors": None}, NO_WINDOW),
    _d("-letter_box", "", "keep the aspect ratio (AlexeyAB stretches by default)", AB,
       {"test": "--letterbox", "demo": "--letterbox", "map": None, "draw": None},
       "darkpy's map letterboxes as pjreddie's validate_detector does"),
    _d("-map", "", "train: evaluate mAP on the valid list while training", AB, {"train": "--map"}),
    _d("-points", "int", "map: 0 area (VOC2010+), 11 (VOC2007), 101 (COCO interpolation)", AB,
       {"map": "--metric"}, convert={"map": _points}),
    _d("-iou_thresh", "float", "map: IoU a match needs", AB, {"map": "--iou-thresh", "train": None},
       "training's -map evaluation matches at IoU .5 in darkpy"),
    _d("-show_imgs", "", "train: show augmented images", AB, {"train": None}, NO_WINDOW),
    _d("-check_mistakes", "", "train: wait for a key at each bad label line", AB, {"train": None},
       "darkpy warns at each bad label line, naming it, and skips the line; `darkpy data check` lists them"),
    _d("-mjpeg_port", "int", "stream annotated frames as MJPEG over HTTP", AB,
       {"demo": "--mjpeg-port", "train": None},
       "darkpy streams video frames (demo), not the training chart",
       fallback="served by darkpy serve/--mjpeg-port (issue 22)"),
    _d("-json_port", "int", "stream detections as JSON over HTTP", AB, {"demo": "--json-port"},
       fallback="served by darkpy serve/--json-port (issue 22)"),
    _d("-dontdraw_bbox", "", "demo: write frames without boxes", AB, {"demo": None},
       "darkpy draws boxes (use --json for detections alone)"),
    _d("-http_post_host", "text", "demo: POST detections to a host", AB, {"demo": None},
       "darkpy prints them (--json) for any tool to send"),
    _d("-time_limit_sec", "int", "demo: stop after N seconds", AB, {"demo": None},
       "darkpy stops after --frames N"),
    _d("-out_filename", "text", "demo: output video file", AB, {"demo": "--out"}),
    _d("-json_file_output", "text", "demo: write detections as JSON to a file", AB, {"demo": None},
       "`--json` prints them, one object per frame, to redirect into a file"),
    _d("-num_of_clusters", "int", "calc_anchors: anchors to find", AB, {"calc_anchors": "--k"}),
    _d("-width", "int", "calc_anchors: network width", AB, {"calc_anchors": "--width"}),
    _d("-height", "int", "calc_anchors: network height", AB, {"calc_anchors": "--height"}),
    _d("-ext_output", "", "print each box's pixel coordinates", AB, {"test": "--ext-output", "demo": None},
       "video frames: --json prints every box's coordinates"),
    _d("-save_labels", "", "test: write Darknet label files beside each image (pseudo-labelling)", AB,
       {"test": "--save-labels"}),
    _d("-chart", "text", "train: name of the loss chart picture", AB, {"train": None},
       "darkpy writes chart.png (chart_NAME.png with --name) in the backup folder"),
    _d("-mAP_epochs", "int", "train: epochs between -map evaluations", AB, {"train": None},
       "darkpy counts in batches: --map-every N"),
    # -- classifier -----------------------------------------------------------------------------
    _c("-i", "int", "GPU index", BOTH, _everywhere("classifier", None), GPU_INDEX),
    _c("-nogpu", "", "run on the CPU", PJ, _everywhere("classifier", "--device cpu"),
       fallback="this darkpy command runs on the CPU anyway"),
    _c("-cuda_debug_sync", "", "synchronise CUDA after each kernel (debugging)", AB,
       _everywhere("classifier", None), "a CUDA debugging switch of Darknet's own kernels"),
    _c("-gpus", "text", "GPUs to train on (0,1,2)", BOTH, {"train": "--gpus"}),
    _c("-clear", "", "reset the images-seen counter", BOTH, {"train": "--clear"}),
    _c("-t", "int", "predict: classes shown", BOTH, {"predict": "--top"}),
    _c("-c", "int", "camera index (demo, gun, threat)", BOTH, {"demo": None, "gun": None, "threat": None},
       "the webcam verbs have no darkpy form"),
    _c("-mjpeg_port", "int", "train: stream the chart as MJPEG", AB, {"train": None},
       "darkpy writes the chart to a file"),
    _c("-dont_show", "", "no window", AB, {"train": None, "demo": None}, NO_WINDOW),
    _c("-benchmark", "", "demo: time without drawing", AB, {"demo": None}, "`darkpy benchmark CFG` times it"),
    _c("-benchmark_layers", "", "time each layer", AB, {"demo": None}, "`darkpy benchmark CFG` times it"),
    _c("-dontuse_opencv", "", "train: load images without OpenCV", AB, {"train": None},
       "darkpy always reads images with OpenCV"),
    _c("-show_imgs", "", "train: show augmented images", AB, {"train": None}, NO_WINDOW),
    _c("-topk", "", "train: compute top-k accuracy while training", AB, {"train": None},
       "`darkpy classifier valid` reports top-1 and top-k"),
    _c("-chart", "text", "train: name of the loss chart picture", AB, {"train": None},
       "darkpy writes chart.png in the backup folder"),
]


def flags_of(family: str) -> dict[str, DarknetFlag]:
    return {f.name: f for f in FLAGS if f.family == family}


def darknet_verbs(family: str) -> dict[str, tuple[Optional[tuple[str, ...]], str]]:
    return VERBS[family]


def rewrite(flag: DarknetFlag, verb: str, value: Optional[str], target_options: dict[str, int]
            ) -> tuple[list[str], str]:
    """darkpy argv words for `flag` (with its `value`) given to `verb`, and a note ('' when the flag
    became an option). `target_options`: the options the darkpy command takes."""
    if verb not in flag.uses:
        return [], f"{flag.name} is not used by Darknet's `{flag.family} {verb}`; ignored"
    option = flag.uses[verb]
    if option is None:
        return [], f"{flag.name} ignored: {flag.why}"
    words = option.split()
    if words[0] not in target_options:
        if flag.fallback:
            return [], f"{flag.name} ignored: {flag.fallback}"
        raise AssertionError(f"{flag.name}: {words[0]} is not an option of the darkpy command")  # table bug
    if not flag.value:
        return words, ""
    if verb in flag.convert:
        return flag.convert[verb](value), ""
    return words + [value], ""


def translate_flags(family: str, verb: str, args: list[str], target_options: dict[str, int],
                    note: Callable[[str], None] = lambda s: None) -> list[str]:
    """`args` with every Darknet flag of `family` rewritten for `verb` (the rest as given)."""
    table = flags_of(family)
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        flag = table.get(a)
        if flag is None:
            out.append(a)
            i += 1
            continue
        value = None
        if flag.value:
            if i + 1 >= len(args):
                raise UsageError(f"{a} needs a value ({family} {verb})")
            value = args[i + 1]
            i += 1
        words, said = rewrite(flag, verb, value, target_options)
        if said:
            note(said)
        out.extend(words)
        i += 1
    return out


def table_markdown() -> str:
    """The table as markdown rows (docs/darknet-to-darkpy.md shows it)."""
    rows = ["| family | flag | value | meaning | Darknet | darkpy |", "|---|---|---|---|---|---|"]
    for f in FLAGS:
        parts = []
        for verb, option in f.uses.items():
            parts.append(f"{verb}: `{option}`" if option else f"{verb}: ignored")
        uses = "; ".join(parts) if len(set(f.uses.values())) > 1 or len(f.uses) < 3 else (
            f"every verb: `{next(iter(f.uses.values()))}`" if next(iter(f.uses.values())) else "every verb: ignored")
        why = f" ({f.why})" if f.why and None in f.uses.values() else ""
        later = f"; where the command lacks the option: {f.fallback}" if f.fallback else ""
        rows.append(f"| {f.family} | `{f.name}` | {f.takes or '-'} | {f.meaning} | {f.source} | {uses}{why}{later} |")
    return "\n".join(rows)


def verbs_markdown() -> str:
    """Darknet's verbs and the darkpy command that runs each (docs/darknet-to-darkpy.md)."""
    rows = ["| family | verb | darkpy |", "|---|---|---|"]
    for family, verbs in VERBS.items():
        for verb, (command, why) in verbs.items():
            runs = f"`darkpy {' '.join(command)}` ({why})" if command else f"none: {why}"
            rows.append(f"| {family} | `{verb}` | {runs} |")
    return "\n".join(rows)
