"""`darkpy detect`: Darknet's `detector test` (images) and `detector demo` (videos, webcams)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from darkpy.assets import locate
from darkpy.cli.engine import engine_option
from darkpy.cli.precision import compile_option, load_inference_predictor, precision_note, precision_option


def resolve_names(data: Optional[Path], names: Optional[Path], classes: int) -> Optional[list[str]]:
    """Class names from --names, or the `names=` entry of --data; None when neither is given."""
    from darkpy.formats.datafile import read_data_file, read_names
    from darkpy.errors import DataError, UsageError

    if data is not None and names is not None:
        raise UsageError("give --data or --names, not both")
    path = names
    if data is not None:
        df = read_data_file(data)
        path = df.resolve("names")
        if path is None:
            raise DataError("no 'names=' entry (needed for class names)", file=data)
    if path is None:
        return None
    path = locate(path)
    if not Path(path).is_file():
        raise DataError("names file not found", file=path)
    result = read_names(path)
    if len(result) < classes:
        raise DataError(f"{len(result)} names but the network predicts {classes} classes", file=path)
    return result


def check_size(size: Optional[int]) -> None:
    from darkpy.errors import UsageError

    if size is not None and (size < 32 or size % 32):
        raise UsageError(f"--size must be a positive multiple of 32 (YOLOv2 downsamples by 32), got {size}")


def detect(
    images: Optional[List[str]] = typer.Argument(
        None, help="Images, folders, globs, .txt lists of paths, or - (a list on stdin); Darknet's "
        "order CFG WEIGHTS IMAGE... works too (files are told apart by their names).", show_default=False),
    cfg: Optional[Path] = typer.Option(None, "--cfg", "-c", help="Darknet .cfg of a detector."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Its .weights file."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="A published model by name (yolov2-voc, yolov2, yolo9000, ...; `darkpy "
        "weights list`): bundled cfg and names, weights from --weights DIR, $DARKPY_WEIGHTS, "
        "~/.cache/darkpy/weights or the current folder."),
    random_weights: bool = typer.Option(
        False, "--random-weights", help="Run --cfg with random weights (for testing a cfg; the boxes mean "
        "nothing)."),
    data: Optional[Path] = typer.Option(None, "--data", help=".data file whose names= gives class names."),
    names: Optional[Path] = typer.Option(None, "--names", help="Class names file (one per line)."),
    class_map: Optional[Path] = typer.Option(
        None, "--map", help="WordTree nets: report these tree nodes as the classes (a map= file such as "
        "data/coco9k.map, one node per line; names then come from the matching list, e.g. coco.names)."),
    thresh: float = typer.Option(0.5, "--thresh", "-thresh",
                                 help="Keep detections with probability above this (Darknet: .5)."),
    hier_thresh: float = typer.Option(0.5, "--hier-thresh", "-hier", help="WordTree walk threshold (Darknet: .5)."),
    hier_walk: str = typer.Option("darknet", "--hier-walk", help="WordTree walk: 'darknet' (product of "
                                  "absolute probabilities along the path, as Darknet) or 'paper' (the "
                                  "path's own probability, as the YOLO9000 paper); see docs/yolo9000.md."),
    nms: float = typer.Option(0.45, "--nms", help="NMS IoU threshold (0 disables; Darknet: .45)."),
    size: Optional[int] = typer.Option(None, "--size", "-s", help="Network input size, a multiple of 32 "
                                       "(default: the cfg's)."),
    letterbox: bool = typer.Option(True, "--letterbox/--no-letterbox",
                                   help="Keep the aspect ratio on a grey canvas, as Darknet's "
                                        "`detector test` "
                                        "(default), or stretch to the network size."),
    device: Optional[str] = typer.Option(None, "--device", "-d",
                                         help="cpu, cuda, cuda:N (default: CUDA if present)."),
    batch: Optional[int] = typer.Option(None, "--batch", "-b", help="Images per forward pass (default for "
                                        "several images: 4 on a CPU, 8 on a GPU; 1 for one)."),
    workers: int = typer.Option(0, "--workers", help="Image-loading processes (0: load in this process)."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print one JSON object per image instead of text lines."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Where annotated output goes: a file for one "
                                       "image or a video, a folder for many images."),
    save: bool = typer.Option(True, "--save/--no-save", help="Write annotated images."),
    ext_output: bool = typer.Option(False, "--ext-output", "-ext_output",
                                    help="Also print each box in pixels, as AlexeyAB's -ext_output "
                                         "(left_x, top_y, width, height)."),
    save_labels: bool = typer.Option(False, "--save-labels", "-save_labels",
                                     help="Write a Darknet label file for each image where AlexeyAB's "
                                          "loader reads it (beside it, or labels/ for JPEGImages/ and "
                                          "COCO's folders): pseudo-labels, as AlexeyAB's -save_labels."),
    json_out: Optional[Path] = typer.Option(None, "--json-out",
                                            help="Write every image's detections to this file in AlexeyAB's "
                                                 "result JSON (its `detector test ... -out result.json`)."),
    source: Optional[str] = typer.Option(None, "--source",
                                         help="A video file or a webcam index (0, 1, ...)."),
    frames: Optional[int] = typer.Option(None, "--frames",
                                         help="Stop a video/webcam after this many frames."),
    show: Optional[bool] = typer.Option(None, "--show/--no-show",
                                        help="Video: show a window (default: when a "
                                        "display exists; otherwise a video file is written)."),
    mjpeg_port: Optional[int] = typer.Option(
        None, "--mjpeg-port", help="Video: also serve the annotated frames as an MJPEG stream on this port "
        "(a browser or <img> shows it live; AlexeyAB's -mjpeg_port; 0: any free port). Needs aiohttp (the "
        "serve extra)."),
    json_port: Optional[int] = typer.Option(
        None, "--json-port", help="Video: also serve each frame's detections as JSON lines on this port "
        "(AlexeyAB's -json_port fields). Needs aiohttp (the serve extra)."),
    stream_host: str = typer.Option("127.0.0.1", "--stream-host", help="Address the --mjpeg-port / "
                                    "--json-port streams listen on (0.0.0.0: every interface)."),
    precision: str = precision_option(),
    half: bool = typer.Option(False, "--half", help="fp16 (same as --precision fp16)."),
    compile_: bool = compile_option(),
    engine: str = engine_option(),
) -> None:
    """Detect objects in images (Darknet's `detector test`) or in a video / webcam (`detector demo`).

    Prints Darknet's lines (`dog: 82%`) and saves annotated images: predictions.jpg for one image,
    --out FOLDER (default predictions/) for several.

    \b
    darkpy form:   darkpy detect IMAGE... --cfg CFG --weights WEIGHTS [--data DATA]
    Darknet forms: darkpy detect CFG WEIGHTS IMAGE...           (./darknet detect)
                   darkpy detector test DATA CFG WEIGHTS IMAGE  (names from DATA's names=)
    By name:       darkpy detect IMAGE --model yolov2-voc       (after `darkpy weights download`)
    Without a model the bundled 3-shape demo runs, with a banner saying so."""
    from darkpy.detect.inputs import resolve_detect_inputs
    from darkpy.errors import UsageError

    inputs = resolve_detect_inputs(images or [], cfg=cfg, weights=weights, data=data, names=names, model=model,
                                   random_weights=random_weights, need_images=False)
    if inputs.banner:
        typer.echo(f"darkpy: {inputs.banner}", err=True)
    for note in inputs.notes:
        typer.echo(f"darkpy: {note}", err=True)
    cfg, weights, data, names, images = inputs.cfg, inputs.weights, inputs.data, inputs.names, inputs.images
    _check_options(images, source, mjpeg_port, json_port, class_map, batch, hier_walk, thresh, hier_thresh, nms,
                   engine)
    if half:
        precision = "fp16"
    paths = _image_paths(images) if source is None else []
    check_size(size)
    spec = inputs.network_spec(size)  # the cfg, read once for the whole command
    detector, classes = _detector(spec, weights, engine, len(paths), device, random_weights, class_map, data, names,
                                  thresh, hier_thresh, nms, letterbox, batch, workers, hier_walk, precision, compile_,
                                  use_numpy=source is None)
    from darkpy.fileio import refuse_overwrite

    if source is not None:
        refuse_overwrite(out, [cfg, weights, data, names])
        _video(detector, source, out, frames, show, as_json, mjpeg_port, json_port, stream_host)
        return
    from darkpy.detect.report import AlexeyABExtras, output_path, write_results

    many = len(paths) > 1
    if save:
        targets = [output_path(out, p, many) for p in paths]
        refuse_overwrite(targets + [out], list(paths) + [cfg, weights, data, names, class_map])
    if json_out is not None:
        refuse_overwrite([json_out], list(paths) + [cfg, weights, data, names, class_map], flag="--json-out")
    if save:
        for folder in {t.parent for t in targets}:
            if folder.exists() and not folder.is_dir():
                raise UsageError(f"--out {folder} is a file: give a folder, or an image name for one image")
    extras = AlexeyABExtras(ext_output, save_labels, json_out, thresh)
    report = write_results(detector, paths, classes, out=out, save=save, as_json=as_json, extras=extras,
                           echo=typer.echo, warn=lambda line: typer.echo(line, err=True))
    typer.echo(report.summary(precision_note(detector)), err=True)
    if json_out is not None:
        extras.write_json()
        typer.echo(f"darkpy: wrote {json_out}", err=True)


def _check_options(images, source, mjpeg_port, json_port, class_map, batch, hier_walk, thresh, hier_thresh, nms,
                   engine) -> None:
    """The combinations of `detect`'s options that cannot run, refused before the network loads."""
    from darkpy.errors import UsageError

    if source is None and not images:
        raise UsageError("give images (or a folder, glob, .txt list, -) or --source VIDEO|CAMERA")
    if source is not None and images:
        raise UsageError("give either images or --source, not both")
    if source is None and (mjpeg_port is not None or json_port is not None):
        raise UsageError("--mjpeg-port and --json-port stream a video or camera: give --source too")
    if source is not None and class_map is not None:
        raise UsageError("--map works with images, not with --source video")
    if batch is not None and batch < 1:
        raise UsageError("--batch must be at least 1")
    if hier_walk not in ("darknet", "paper"):  # the walk module imports torch: only for the error
        from darkpy.wordtree.walk import walk_function

        walk_function(hier_walk)  # an unknown name is a usage error before the network loads
    if not (0 <= thresh <= 1 and 0 <= hier_thresh <= 1 and 0 <= nms <= 1):
        raise UsageError("--thresh, --hier-thresh and --nms must lie in [0, 1]")
    if engine not in ("auto", "torch", "numpy"):
        raise UsageError(f"--engine must be auto, torch or numpy, got {engine!r}")


def _image_paths(images: list[str]) -> list[str]:
    """The image paths of the arguments (folders, globs, lists, - for stdin), at least one."""
    import sys

    from darkpy.detect.output import expand_inputs
    from darkpy.errors import UsageError

    if "-" in images and (sys.stdin is None or sys.stdin.isatty()):
        raise UsageError("- reads a list of image paths from stdin, and stdin is a terminal: pipe a list "
                         "(darkpy detect - ... < list.txt) or give the paths as arguments")
    paths = expand_inputs(images)
    if not paths:
        raise UsageError("no image paths on stdin (- reads one path per line)" if "-" in images
                         else "no images given")
    return paths


def default_batch(device: str | None, precision: str | None = "auto") -> int:
    """Images per forward pass for a folder. On a CPU two passes run side by side
    (`darkpy.detect.lanes`), so a small batch keeps both cores busy to the last image and holds
    few activations: yolov2-voc at 416 on 2 cores, 50 images, fp32 batch 2 ran as fast as 4
    (8.7-8.9 s) with ~200 MiB less peak memory and 1 was 5% slower; bf16 batch 1 was as fast
    as 2 and 4 and held 70-150 MiB less. A GPU gains from more. Asked without importing torch
    where torch can't use a GPU."""
    from darkpy.detect.numpy_engine import cuda_may_be_wanted

    if cuda_may_be_wanted(device):
        return 8
    return 1 if precision in ("bf16", "fp16") else 2


def _detector(spec, weights, engine, n_images, device, random_weights, class_map, data, names, thresh,
              hier_thresh, nms, letterbox, batch, workers, hier_walk, precision, compile_, use_numpy):
    """The detector for `detect` and its class count: the torch-free engine when `choose_engine`
    picks it and it runs this network, else torch; both from the one spec and the same options."""
    from darkpy.detect.decode import tree_map_applies
    from darkpy.detect.numpy_engine import choose_engine
    from darkpy.detect.options import DetectOptions
    from darkpy.errors import UsageError

    classes = spec.classes
    if classes is None:
        raise UsageError(f"{spec.cfg_path} has no [region] or [yolo] layer: it is not a detector")
    spec.net.check_image_channels(spec.cfg_path, detector=True)  # before the weights: the clearer line
    nodes = None
    if class_map is not None:
        from darkpy.formats.datafile import read_map

        if not tree_map_applies(spec):
            raise UsageError("--map applies to WordTree networks (a [region] layer with tree=) only",
                             file=class_map)
        nodes = read_map(class_map)
        classes = len(nodes)
    if batch is None:
        batch = min(default_batch(device, precision), n_images) if n_images > 1 else 1
    options = DetectOptions(thresh=thresh, hier_thresh=hier_thresh, nms=nms, letterbox=letterbox, batch=batch,
                            workers=workers, names=resolve_names(data, names, classes), class_map=nodes,
                            keep_image=True, hier_walk=hier_walk, device=device, precision=precision)
    plain = class_map is None and not random_weights and weights is not None
    if use_numpy and plain and choose_engine(engine, n_images, precision, device, compile_) == "numpy":
        from darkpy.detect.numpy_engine import NumpyDetector
        from darkpy.net.numpy_forward import NumpyUnsupported

        try:
            return NumpyDetector(spec, weights, options), classes
        except NumpyUnsupported as exc:
            if engine == "numpy":
                typer.echo(f"darkpy: the numpy engine does not run this network ({exc}); using torch", err=True)
    elif engine == "numpy":
        typer.echo("darkpy: --engine numpy runs images with --cfg/--weights and no --map; using torch", err=True)
    from darkpy.detect.detector import Detector

    predictor = load_inference_predictor(spec, None if random_weights else weights, precision, device=device,
                                         compile=compile_)
    return Detector(predictor, options=options), classes


def _video(detector, source, out, frames, show, as_json, mjpeg_port=None, json_port=None,
           stream_host="127.0.0.1") -> None:
    from darkpy.detect.video import run_video

    streams = None
    if mjpeg_port is not None or json_port is not None:
        from darkpy.serve.extra import require_aiohttp

        require_aiohttp("--mjpeg-port / --json-port")
        from darkpy.serve.engine import frame_json
        from darkpy.serve.streams import StreamServer

        streams = StreamServer(stream_host, mjpeg_port, json_port).start()
        for kind, flag in (("mjpeg", "MJPEG"), ("json", "JSON")):
            if kind in streams.ports:
                typer.echo(f"darkpy: {flag} stream on {streams.url(kind)}", err=True)

    def on_frame(i: int, dets) -> None:
        if as_json:
            typer.echo(json.dumps({"frame": i, "detections": [d.to_dict() for d in dets]}))
        if streams is not None:
            streams.publish_json(frame_json(dets, i + 1, str(source)))

    try:
        stats = run_video(detector, source, out, frames, show=show, on_frame=on_frame,
                          on_drawn=streams.publish_frame if streams is not None else None)
    finally:
        if streams is not None:
            streams.stop()
    typer.echo(stats.message + precision_note(detector), err=as_json)
    if stats.out is not None:
        typer.echo(f"wrote {stats.out}", err=as_json)


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
