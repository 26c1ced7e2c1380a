"""The page `darkpy serve` shows at `/`: upload an image, see it drawn with its boxes (a canvas)
and listed; the live stream when the server was given `--source`. `/?demo=1` runs the bundled
sample image through the same code as an upload as soon as the page loads (headless browsers and
first-time visitors)."""
from __future__ import annotations

import html
import json

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>darkpy serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } .note { color: #666; margin: .2em 0 1em; }
canvas, #stream { max-width: 100%; border: 1px solid #ccc; display: block; margin: .8em 0; }
#boxes li { font-family: ui-monospace, monospace; } .error { color: #b00; }
#stream { min-width: 384px; image-rendering: pixelated; }
#frame { white-space: pre-wrap; word-break: break-all; font-size: 12px; }
label { margin-right: 1em; }
</style></head>
<body data-state="idle">
<h1>darkpy serve</h1>
<p class="note">__MODEL__</p>
<form id="form" onsubmit="return false">
  <label>Image <input type="file" id="file" accept="image/*"></label>
  <label>thresh <input type="number" id="thresh" min="0" max="1" step="0.05" value="__THRESH__"></label>
</form>
<p id="status">Choose an image: it is sent to <code>POST /detect</code> and drawn here with its boxes.</p>
<canvas id="canvas" width="1" height="1"></canvas>
<ol id="boxes"></ol>
<section id="live" __LIVE_HIDDEN__>
  <h2>Live: __SOURCE__</h2>
  <img id="stream" alt="live stream (MJPEG)">
  <pre id="frame"></pre>
</section>
<script>
"use strict";
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c"];
const $ = (id) => document.getElementById(id);

async function detect(blob, name) {
  document.body.dataset.state = "busy";
  $("status").textContent = "Detecting in " + name + " ...";
  $("status").className = "";
  const form = new FormData();
  form.append("image", blob, name);
  const query = new URLSearchParams({thresh: $("thresh").value});
  let body, response;
  try {
    response = await fetch("/detect?" + query, {method: "POST", body: form});
    body = await response.json();
  } catch (err) {
    body = {error: String(err)};
  }
  if (!response || !response.ok) {
    $("status").textContent = "Error: " + (body.error || response.status);
    $("status").className = "error";
    document.body.dataset.state = "error";
    return;
  }
  const bitmap = await createImageBitmap(blob);
  // small images are drawn enlarged (boxes and labels stay legible); coordinates are the image's
  const scale = Math.max(1, Math.min(4, 480 / bitmap.width));
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  ctx.imageSmoothingEnabled = scale === 1;
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  ctx.scale(scale, scale);
  const list = $("boxes");
  list.replaceChildren();
  const thick = Math.max(2, Math.round(bitmap.height * 0.006)) / scale;
  ctx.font = (Math.max(13, Math.round(canvas.height / 40)) / scale) + "px sans-serif";
  for (const d of body.detections) {
    const [x1, y1, x2, y2] = d.box, color = COLORS[d.class_id % COLORS.length];
    const label = d["class"] + " " + (100 * d.confidence).toFixed(1) + "%";
    ctx.lineWidth = thick;
    ctx.strokeStyle = color;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const tw = ctx.measureText(label).width, th = parseFloat(ctx.font), pad = 3 / scale;
    ctx.fillStyle = color;
    ctx.fillRect(x1, Math.max(0, y1 - th - 2 * pad), tw + 2 * pad, th + 2 * pad);
    ctx.fillStyle = "#000";
    ctx.fillText(label, x1 + pad, Math.max(th, y1 - pad));
    const item = document.createElement("li");
    item.className = "box";
    item.textContent = label + "  [" + d.box.map((v) => v.toFixed(1)).join(", ") + "]";
    list.appendChild(item);
  }
  $("status").textContent = name + ": " + body.width + "x" + body.height + ", " +
    body.detections.length + " detection(s)";
  document.title = "darkpy serve: " + body.detections.length + " detection(s)";
  document.body.dataset.state = "done";
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) detect(file, file.name);
});

if (new URLSearchParams(location.search).has("demo")) {
  fetch("/demo.jpg").then((r) => r.blob()).then((b) => detect(b, "demo.jpg"));
}

if (__LIVE__) {
  $("stream").src = "/stream.mjpg";
  fetch("/stream.json").then(async (r) => {
    const reader = r.body.getReader(), text = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += text.decode(value, {stream: true});
      const lines = buffer.split("\\n");
      buffer = lines.pop();
      if (lines.length) $("frame").textContent = lines[lines.length - 1];
    }
  }).catch(() => {});
}
</script>
</body></html>
"""


def render_page(model: str, thresh: float, source: str | None) -> str:
    return (_PAGE.replace("__MODEL__", html.escape(model))
            .replace("__THRESH__", f"{thresh:g}")
            .replace("__LIVE_HIDDEN__", "" if source is not None else "hidden")
            .replace("__SOURCE__", html.escape(str(source)) if source is not None else "")
            .replace("__LIVE__", json.dumps(source is not None)))
