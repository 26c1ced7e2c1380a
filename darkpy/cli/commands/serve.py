"""`darkpy serve`: detection over HTTP (POST /detect, a page at /, live streams with --source)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from darkpy.cli.precision import load_inference_predictor, precision_option


def serve(
    cfg: Optional[Path] = typer.Option(None, "--cfg", "-c", help="Darknet .cfg of a detector."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Its .weights file."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="A published model by name (`darkpy "
                                        "weights list`), as `darkpy detect --model`."),
    random_weights: bool = typer.Option(False, "--random-weights", help="Run --cfg with random weights "
                                        "(load tests; the boxes mean nothing)."),
    data: Optional[Path] = typer.Option(None, "--data", help=".data file whose names= gives class names."),
    names: Optional[Path] = typer.Option(None, "--names", help="Class names file (one per line)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; "
                             "there is no authentication)."),
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on (0: any free port, printed)."),
    thresh: float = typer.Option(0.5, "--thresh", help="Default threshold (a request's ?thresh= overrides)."),
    hier_thresh: float = typer.Option(0.5, "--hier-thresh", help="Default WordTree threshold (?hier=)."),
    nms: float = typer.Option(0.45, "--nms", help="Default NMS IoU threshold (?nms=)."),
    size: Optional[int] = typer.Option(None, "--size", "-s", help="Network input size, a multiple of 32."),
    letterbox: bool = typer.Option(True, "--letterbox/--no-letterbox", help="Keep the aspect ratio "
                                   "(Darknet's `detector test`) or stretch."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="cpu, cuda, cuda:N (default: CUDA if "
                                         "present)."),
    precision: str = precision_option(),
    batch: int = typer.Option(8, "--batch", "-b", help="Most requests run in one forward pass."),
    max_wait_ms: float = typer.Option(5.0, "--max-wait-ms", help="How long a batch waits for requests still "
                                      "being decoded (a lone request never waits)."),
    queue_size: int = typer.Option(256, "--queue", help="Requests that may wait; beyond, 503."),
    max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Largest request body; beyond, 413."),
    max_megapixels: float = typer.Option(64.0, "--max-megapixels", help="Largest image (width x height); "
                                         "beyond, 413."),
    source: Optional[str] = typer.Option(None, "--source", help="Also stream detections on a video file or "
                                         "webcam (0, 1, ...): /stream.mjpg, /stream.json and on the page."),
) -> None:
    """Serve detection over HTTP: POST an image to /detect, get `darkpy detect --json`'s object.

    \b
    darkpy serve                                   # the bundled demo model, http://127.0.0.1:8080/
    darkpy serve --model yolov2-voc --port 9000
    darkpy serve --cfg cfg/yolov2-voc.cfg --weights yolov2-voc.weights --data cfg/voc.data --source 0
    curl -s --data-binary @data/demo/images/001988.jpg -H 'Content-Type: image/jpeg' localhost:8080/detect
    Needs aiohttp, the serve extra of darkpy (the quick start installs it). See docs/serve.md."""
    from darkpy.serve.extra import require_aiohttp

    require_aiohttp()
    _check_options(thresh, hier_thresh, nms, batch, queue_size, port, max_body_mb, max_megapixels, max_wait_ms)
    if source is not None:
        from darkpy.detect.video import open_capture

        open_capture(source).release()  # a missing file or camera is an error now, not a silent page

    from darkpy.cli.commands.detect import check_size, resolve_names
    from darkpy.detect.inputs import resolve_detect_inputs

    inputs = resolve_detect_inputs([], cfg=cfg, weights=weights, data=data, names=names, model=model,
                                   random_weights=random_weights, need_images=False)
    if inputs.banner:
        typer.echo(f"darkpy: {inputs.banner}", err=True)
    for note in inputs.notes:
        typer.echo(f"darkpy: {note}", err=True)
    check_size(size)

    from darkpy.serve import engine
    from darkpy.serve.app import model_description, serve as run_server, serve_config

    # as `detect` loads it: at bf16/fp16 one layer at a time, never the fp32 network beside the copy
    predictor = load_inference_predictor(inputs.cfg, None if random_weights else inputs.weights, precision,
                                         device=device, size=size)
    classes = engine.served_classes(predictor.net, inputs.cfg)
    class_names = resolve_names(inputs.data, inputs.names, classes)
    detector = engine.make_detector(predictor, names=class_names, thresh=thresh, nms=nms, hier_thresh=hier_thresh,
                                    letterbox=letterbox, device=device, precision=precision, batch=batch)
    what = model_description(inputs.cfg, inputs.weights, demo=inputs.demo)
    config = serve_config(host=host, port=port, max_body_mb=max_body_mb, max_megapixels=max_megapixels,
                          queue_size=queue_size, max_wait_ms=max_wait_ms, source=source, model=what)

    def ready(url: str) -> None:
        typer.echo(f"darkpy: serving {what} on {url} (POST /detect; Ctrl-C or SIGTERM stops)", err=True)

    run_server(detector, config, on_ready=ready)
    typer.echo("darkpy: stopped", err=True)


def _check_options(thresh, hier_thresh, nms, batch, queue_size, port, max_body_mb, max_megapixels,
                   max_wait_ms) -> None:
    """`serve`'s option values that cannot serve, refused before anything loads."""
    from darkpy.errors import UsageError

    for name, value in (("--thresh", thresh), ("--hier-thresh", hier_thresh), ("--nms", nms)):
        if not 0 <= value <= 1:
            raise UsageError(f"{name} must lie in [0, 1], got {value}")
    if batch < 1:
        raise UsageError("--batch must be at least 1")
    if queue_size < 1:
        raise UsageError("--queue must be at least 1")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must lie in 0..65535, got {port}")
    if max_body_mb <= 0 or max_megapixels <= 0 or max_wait_ms < 0:
        raise UsageError("--max-body-mb and --max-megapixels must be positive, --max-wait-ms not negative")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
