"""Every comparison of issue 24 in one command, alternating darkpy with a Darknet binary.

    python benchmarks/run_all.py --vs-darknet /path/to/darknet [--quick] [--only kmeans,folder,...]
                                 [--repeats N] [--workdir DIR] [--markdown FILE]

The Darknet binary may be AlexeyAB's CPU build (`make GPU=0 OPENCV=0 AVX=1 OPENMP=1`) or Debian's
`darknet` package (pjreddie's sources); which one it is is read from the binary (AlexeyAB's has
`calc_anchors`, which the kmeans comparison needs). Every measurement is a whole process, started
by this script and timed with `os.wait4` (wall, user + sys CPU, peak RSS of that process); darkpy
and Darknet runs alternate, so load from other work on the machine falls on both. Ratios are
printed as darkpy's speed over Darknet's (above 1: darkpy faster), and for memory darkpy's peak
over Darknet's. Nothing is downloaded: weights are random (written by darkpy in Darknet's format;
speed does not depend on the values), images and labels are generated.

Comparisons (`--only` picks some; `--quick` makes each smaller, about 3 minutes in all on an idle
2-core machine, 10 without it):

- kmeans: `darkpy kmeans --k 5` vs `darknet detector calc_anchors -num_of_clusters 5` on 100k
  boxes in 20k label files; wall time and avg IoU (target: darkpy's time <= Darknet's, IoU >=).
- folder: `darkpy detect FOLDER` (yolov2-voc 416, annotated images written) at fp32 and bf16 vs
  `darknet detector test` reading the same paths from stdin; images/s (targets 3x fp32, 5x bf16)
  and peak RSS (target <= 1.3x). Also `darkpy benchmark` images/s at the folder's batch, the
  forward alone, which the folder run should reach within 0.8.
- train: yolov2-tiny-voc with 8 classes at 288x288, batch 32, `darkpy train` (fp32 and --amp)
  vs `darknet detector train`; seconds per batch in the steady state, from the arrival times of
  the per-batch lines (targets 3x fp32, 5x amp), and peak RSS (target <= 1.3x).
- recall: `darkpy recall` on the 12 demo images vs `darknet detector recall` (target: within 2x).
- video: a 150-frame 640x480 video through `darkpy detect --source` at bf16 (yolov2-tiny-voc and
  yolov2-voc, 416; targets 60 and 20 FPS); no Darknet peer (its demo needs OpenCV and a display).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CASES = ("kmeans", "folder", "train", "recall", "video")


# --------------------------------------------------------------------------------------------
# processes


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int
    out: str
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)


def run(cmd: list[str], cwd: Path, *, env: dict | None = None, stdin: str | None = None,
        timeout: float = 1800, check: bool = True) -> Run:
    """One whole process: wall, CPU (user + sys), peak RSS, and each output line with the time it
    arrived (stdout and stderr merged; line-buffered where the program allows)."""
    if shutil.which("stdbuf") and not cmd[0].endswith("python") and cmd[0] != PY:
        cmd = ["stdbuf", "-oL", "-eL", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if stdin is not None:
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
    lines: list[tuple[float, str]] = []
    buf = b""
    deadline = t0 + timeout
    while True:
        chunk = proc.stdout.read1(1 << 16) if hasattr(proc.stdout, "read1") else proc.stdout.read(4096)
        now = time.perf_counter() - t0
        if not chunk:
            break
        buf += chunk
        *full, buf = re.split(rb"[\r\n]", buf)
        lines.extend((now, x.decode("utf-8", "replace")) for x in full if x.strip())
        if time.perf_counter() > deadline:
            proc.kill()
            break
    if buf.strip():
        lines.append((time.perf_counter() - t0, buf.decode("utf-8", "replace")))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    out = "\n".join(x for _, x in lines)
    r = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, out, lines)
    if check and r.code != 0:
        raise RuntimeError(f"exit {r.code}: {' '.join(map(str, cmd))}\n{out[-3000:]}")
    return r


def darkpy(*args: str) -> list[str]:
    return [PY, "-m", "darkpy", *map(str, args)]


def env_for() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONUNBUFFERED="1", QT_QPA_PLATFORM="offscreen")
    env.pop("OMP_NUM_THREADS", None)
    # as an installed darkpy runs: from cached bytecode (a shell that sets PYTHONDONTWRITEBYTECODE
    # made every run compile darkpy's modules from source again, ~20-30 ms of each start-up)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# --------------------------------------------------------------------------------------------
# the machine and the peer


def cpu_info() -> str:
    model, flags = platform.processor() or "?", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        model = m.group(1).strip() if m else model
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"]
    have = [f for f in wanted if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}; {cores} cores; flags: {' '.join(have) or 'none of ' + ','.join(wanted)}"


def peer_kind(binary: Path) -> str:
    data = binary.read_bytes()
    return "alexeyab" if b"calc_anchors" in data else "pjreddie"


def glyphs_dir(binary: Path) -> Path | None:
    """Darknet draws labels with the glyphs in ./data/labels: from beside the binary or Debian's."""
    for d in (binary.resolve().parent / "data", Path("/usr/share/darknet/data")):
        if (d / "labels").is_dir():
            return d
    return None


# --------------------------------------------------------------------------------------------
# generated inputs


def make_weights(cfg: Path, out: Path, env: dict) -> Path:
    if not out.exists():
        code = ("import sys, darkpy; darkpy.load_network(sys.argv[1], device='cpu')"
                ".save_weights(sys.argv[2])")
        run([PY, "-c", code, str(cfg), str(out)], out.parent, env=env)
    return out


def make_label_set(root: Path, files: int, per_file: int) -> Path:
    """`files` label files of `per_file` boxes in a VOC layout (JPEGImages/labels, which both
    Darknets map), a train list and a .data file; no images (kmeans reads labels only)."""
    import numpy as np

    data = root / "obj.data"
    if data.exists():
        return data
    rng = np.random.default_rng(0)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    sizes = np.array([[500, 375], [640, 480], [640, 427], [1280, 720], [416, 416]], np.float64)
    fam = np.array([[0.04, 0.06], [0.1, 0.25], [0.25, 0.15], [0.4, 0.55], [0.8, 0.7], [0.2, 0.4]])
    img = sizes[rng.integers(0, len(sizes), files)].repeat(per_file, axis=0)
    n = files * per_file
    rel = fam[rng.integers(0, len(fam), n)] * np.exp(rng.normal(0, 0.35, (n, 2)))
    wh = np.clip(np.round(rel * img), 1, img) / img
    xy = wh / 2 + rng.random((n, 2)) * (1 - wh)
    cls = rng.integers(0, 20, n)
    listing = []
    for i in range(files):
        s = slice(i * per_file, (i + 1) * per_file)
        text = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n"
                       for c, (x, y), (w, h) in zip(cls[s], xy[s], wh[s]))
        (root / "labels" / f"{i:06d}.txt").write_text(text)
        listing.append(f"{root}/JPEGImages/{i:06d}.jpg\n")
    (root / "train.txt").write_text("".join(listing))
    (root / "names").write_text("".join(f"c{i}\n" for i in range(20)))
    data.write_text(f"classes = 20\ntrain = {root}/train.txt\nvalid = {root}/train.txt\n"
                    f"names = {root}/names\nbackup = {root}\n")
    return data


def make_photos(folder: Path, n: int) -> list[Path]:
    """n distinct photos from data/*.jpg (flips and crops)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "data").glob("*.jpg"))
    paths = []
    for i in range(n):
        p = folder / f"img{i:03d}.jpg"
        paths.append(p)
        if p.exists():
            continue
        img = cv2.imread(str(sources[i % len(sources)]))
        k = i // len(sources)
        if k % 2:
            img = img[:, ::-1]
        c = (k // 2) * 8
        h, w = img.shape[:2]
        cv2.imwrite(str(p), img[c:h - c, c:w - c])
    return paths


def make_train_set(root: Path, images: int, classes: int) -> Path:
    import cv2
    import numpy as np

    data = root / "train.data"
    if data.exists():
        return data
    rng = np.random.default_rng(0)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    listing = []
    for i in range(images):
        img = cv2.GaussianBlur(rng.integers(0, 255, (375, 500, 3), dtype=np.uint8), (7, 7), 2)
        p = root / "JPEGImages" / f"{i:04d}.jpg"
        cv2.imwrite(str(p), img)
        rows = [f"{rng.integers(classes)} {rng.uniform(.2, .8):.4f} {rng.uniform(.2, .8):.4f} "
                f"{rng.uniform(.05, .4):.4f} {rng.uniform(.05, .4):.4f}" for _ in range(rng.integers(1, 6))]
        (root / "labels" / f"{i:04d}.txt").write_text("\n".join(rows) + "\n")
        listing.append(f"{p}\n")
    (root / "train.txt").write_text("".join(listing))
    (root / "names").write_text("".join(f"c{i}\n" for i in range(classes)))
    (root / "backup").mkdir(exist_ok=True)
    data.write_text(f"classes = {classes}\ntrain = {root}/train.txt\nvalid = {root}/train.txt\n"
                    f"names = {root}/names\nbackup = {root}/backup\n")
    return data


def train_cfg(src: Path, out: Path, *, classes: int, size: int, batch: int, subdivisions: int,
              max_batches: int) -> Path:
    """yolov2-tiny-voc with `classes`, fixed size (random=0), the batch given, no burn-in."""
    text = src.read_text()
    sets = {"batch": batch, "subdivisions": subdivisions, "width": size, "height": size,
            "max_batches": max_batches, "classes": classes, "random": 0}
    for key, value in sets.items():
        text = re.sub(rf"^{key}\s*=.*$", f"{key}={value}", text, flags=re.M)
    # the convolution feeding [region]: filters = num * (classes + 5)
    num = int(re.search(r"^num\s*=\s*(\d+)", text, re.M).group(1))
    head, region = text.rsplit("[region]", 1)
    head = re.sub(r"filters\s*=\s*\d+(?![\s\S]*filters\s*=)", f"filters={num * (classes + 5)}", head)
    out.write_text(head + "[region]" + region)
    return out


def make_video(path: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    import cv2
    import numpy as np

    if path.exists():
        return path
    base = cv2.resize(cv2.imread(str(ROOT / "data" / "dog.jpg")), size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for i in range(frames):
        writer.write(np.roll(base, 4 * i, axis=1))
    writer.release()
    return path


# --------------------------------------------------------------------------------------------
# reporting


ROWS: list[tuple[str, str, str, str, str]] = []


def row(work: str, peer: str, ours: str, ratio: str, target: str) -> None:
    ROWS.append((work, peer, ours, ratio, target))
    print(f"  -> {work}: darknet {peer} | darkpy {ours} | {ratio} | target {target}", flush=True)


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --------------------------------------------------------------------------------------------
# the comparisons


def case_kmeans(a, tmp: Path, env: dict) -> None:
    if a.peer_kind != "alexeyab":
        print("kmeans: skipped (calc_anchors is AlexeyAB's; this Darknet has none)")
        return
    data = make_label_set(tmp / "kmeans", 20000, 5)
    cwd = tmp / "kmeans_run"
    cwd.mkdir(exist_ok=True)
    ours_cmd = darkpy("kmeans", "--data", data, "--k", 5, "--size", 416)
    peer_cmd = [str(a.darknet), "detector", "calc_anchors", str(data), "-num_of_clusters", "5",
                "-width", "416", "-height", "416"]
    walls = {"darkpy": [], "darknet": []}
    cpus = {"darkpy": [], "darknet": []}
    ious = {}
    for _ in range(a.repeats + 1):
        for name, cmd in (("darknet", peer_cmd), ("darkpy", ours_cmd)):
            r = run(cmd, cwd, env=env)
            walls[name].append(r.wall)
            cpus[name].append(r.cpu)
            m = re.search(r"avg IoU\s*=?\s*([\d.]+)\s*%", r.out)
            if m:
                ious[name] = float(m.group(1))
    for name in walls:  # the first round warms the page cache for both
        walls[name], cpus[name] = walls[name][1:], cpus[name][1:]
    wd, wp = med(walls["darknet"]), med(walls["darkpy"])
    print(f"kmeans k=5, 100k boxes in 20k files, {a.repeats} alternating runs (after one warm-up each):")
    print(f"  darknet wall {wd:.3f} s (CPU {med(cpus['darknet']):.3f} s), avg IoU {ious.get('darknet')}%")
    print(f"  darkpy  wall {wp:.3f} s (CPU {med(cpus['darkpy']):.3f} s), avg IoU {ious.get('darkpy')}%")
    ok = wp <= wd and ious.get("darkpy", 0) >= ious.get("darknet", 100)
    cd, cp = med(cpus["darknet"]), med(cpus["darkpy"])
    row("kmeans k=5, 100k boxes / 20k files, whole process",
        f"{wd:.2f} s (CPU {cd:.2f} s), IoU {ious.get('darknet')}%",
        f"{wp:.2f} s (CPU {cp:.2f} s), IoU {ious.get('darkpy')}%",
        f"time {wp / wd:.2f}x Darknet's (CPU {cp / cd:.2f}x)",
        f"<= 1.0x, IoU >=: {verdict(ok)}")


def case_folder(a, tmp: Path, env: dict) -> None:
    n = a.folder_images or (20 if a.quick else 50)
    cfg = ROOT / "cfg" / "yolov2-voc.cfg"
    weights = make_weights(cfg, tmp / "yolov2-voc.weights", env)
    photos = make_photos(tmp / "photos", n)
    folder = tmp / f"folder{n}"
    if not folder.exists():
        folder.mkdir()
        for p in photos:
            os.symlink(p, folder / p.name)
    cwd = tmp / "folder_run"
    cwd.mkdir(exist_ok=True)
    glyphs = glyphs_dir(a.darknet)
    if glyphs is not None and not (cwd / "data").exists():
        (cwd / "data").symlink_to(glyphs)
    names = ROOT / "data" / "voc.names"
    voc = cwd / "voc.data"
    voc.write_text(f"classes = 20\nnames = {names}\n")
    peer_cmd = [str(a.darknet), "detector", "test", str(voc), str(cfg), str(weights)]
    peer_cmd += ["-dont_show"] if a.peer_kind == "alexeyab" else ["-out", str(cwd / "predictions")]
    listing = "".join(f"{folder / p.name}\n" for p in photos)
    precisions = ["fp32", "bf16"]
    cmds = {p: darkpy("detect", folder, "--cfg", cfg, "--weights", weights, "--names", names,
                      "--out", cwd / f"out_{p}", "--precision", p) for p in precisions}
    res: dict[str, list[Run]] = {"darknet": [], **{p: [] for p in precisions}}
    for _ in range(a.repeats):
        res["darknet"].append(run(peer_cmd, cwd, env=env, stdin=listing))
        for p in precisions:
            res[p].append(run(cmds[p], cwd, env=env))
    wd = med([r.wall for r in res["darknet"]])
    rss_d = max(r.rss_mib for r in res["darknet"])
    print(f"folder of {n} images, yolov2-voc 416, whole process, {a.repeats} alternating runs:")
    print(f"  darknet {wd:.2f} s = {n / wd:.2f} images/s, CPU {med([r.cpu for r in res['darknet']]):.1f} s, "
          f"peak RSS {rss_d:.0f} MiB")
    targets = {"fp32": 3.0, "bf16": 5.0}
    for p in precisions:
        wp = med([r.wall for r in res[p]])
        rss = max(r.rss_mib for r in res[p])
        print(f"  darkpy {p} {wp:.2f} s = {n / wp:.2f} images/s, CPU {med([r.cpu for r in res[p]]):.1f} s, "
              f"peak RSS {rss:.0f} MiB")
        row(f"folder of {n}, yolov2-voc, {p}", f"{n / wd:.2f} img/s", f"{n / wp:.2f} img/s",
            f"{wd / wp:.2f}x", f">= {targets[p]:g}x: {verdict(wd / wp >= targets[p])}")
        row(f"peak RSS, folder of {n}, {p}", f"{rss_d:.0f} MiB", f"{rss:.0f} MiB", f"{rss / rss_d:.2f}x",
            f"<= 1.3x: {verdict(rss / rss_d <= 1.3)}")
    # the forward alone at the folder's own batch (4 on a CPU), for the pipeline's share of it
    for p in precisions:
        r = run(darkpy("benchmark", cfg, "--sizes", 416, "--batch", 4, "--iters", 3, "--precision", p),
                cwd, env=env, check=False)
        fwd = _benchmark_fps(r.out)
        if fwd:
            wp = med([x.wall for x in res[p]])
            print(f"  darkpy benchmark {p} batch 4 (the forward alone): {fwd:.2f} images/s; the folder's "
                  f"whole process reaches {n / wp / fwd:.2f} of it")
            row(f"folder of {n} vs the forward alone, {p}", "-", f"{n / wp:.2f} of {fwd:.2f} img/s",
                f"{n / wp / fwd:.2f}", f">= 0.8 (500 images): {verdict(n / wp / fwd >= 0.8)}")


def _benchmark_fps(text: str) -> float | None:
    """Images/s from `darkpy benchmark`'s table: the FPS column of its first size row."""
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) >= 4 and re.fullmatch(r"\d+x\d+", cells[0]):
            try:
                return float(cells[3])
            except ValueError:
                return None
    return None


def _per_batch(r: Run, skip: int = 1) -> tuple[float, int]:
    """Seconds per batch from the arrival times of 'N: loss, avg ...' lines, past the first `skip`."""
    pat = re.compile(r"^\s*(\d+):\s*[-\d.naif]+,\s*[-\d.naif]+ avg")
    seen = [(t, int(m.group(1))) for t, line in r.lines if (m := pat.match(line))]
    if len(seen) <= skip + 1:
        return float("nan"), len(seen)
    (t0, i0), (t1, i1) = seen[skip], seen[-1]
    return (t1 - t0) / max(1, i1 - i0), len(seen)


def case_train(a, tmp: Path, env: dict) -> None:
    batches = 4 if a.quick else 8
    root = tmp / "train"
    data = make_train_set(root, 64, 8)
    cfg = train_cfg(ROOT / "cfg" / "yolov2-tiny-voc.cfg", root / "tiny8.cfg", classes=8, size=288,
                    batch=32, subdivisions=a.train_subdivisions, max_batches=batches)
    peer_cmd = [str(a.darknet), "detector", "train", str(data), str(cfg)]
    if a.peer_kind == "alexeyab":
        peer_cmd.append("-dont_show")
    variants = {"fp32": [], "amp": ["--amp"]}
    cmds = {k: darkpy("train", cfg, "--data", data, "--max-batches", batches, "--backup", root / "backup",
                      "--device", "cpu", *extra) for k, extra in variants.items()}
    res: dict[str, list[Run]] = {"darknet": [], **{k: [] for k in variants}}
    for _ in range(a.repeats):
        res["darknet"].append(run(peer_cmd, root, env=env))
        for k in variants:
            res[k].append(run(cmds[k], root, env=env))
    sd = med([_per_batch(r)[0] for r in res["darknet"]])
    rss_d = max(r.rss_mib for r in res["darknet"])
    print(f"train yolov2-tiny-voc, 8 classes, 288x288, batch 32 (subdivisions {a.train_subdivisions}), "
          f"{batches} batches, seconds per batch after the first, {a.repeats} alternating runs:")
    print(f"  darknet {sd:.2f} s/batch, peak RSS {rss_d:.0f} MiB, wall {med([r.wall for r in res['darknet']]):.1f} s")
    targets = {"fp32": 3.0, "amp": 5.0}
    for k in variants:
        sp = med([_per_batch(r)[0] for r in res[k]])
        rss = max(r.rss_mib for r in res[k])
        waits = [float(m.group(1)) for r in res[k] for m in re.finditer(r"data wait ([\d.]+)%", r.out)]
        steady = [float(m.group(1)) for r in res[k] for m in re.finditer(r"\(([\d.]+)% after the first", r.out)]
        wait = f", data wait {med(waits):.1f}%" if waits else ""
        wait += f" ({med(steady):.1f}% after the first batch)" if steady else ""
        print(f"  darkpy {k} {sp:.2f} s/batch, peak RSS {rss:.0f} MiB, wall "
              f"{med([r.wall for r in res[k]]):.1f} s{wait}")
        row(f"train tiny-voc 8 cl 288 b32, {k}", f"{sd:.2f} s/batch", f"{sp:.2f} s/batch", f"{sd / sp:.2f}x",
            f">= {targets[k]:g}x: {verdict(sd / sp >= targets[k])}")
        row(f"training peak RSS, {k}", f"{rss_d:.0f} MiB", f"{rss:.0f} MiB", f"{rss / rss_d:.2f}x",
            f"<= 1.3x: {verdict(rss / rss_d <= 1.3)}")


def case_recall(a, tmp: Path, env: dict) -> None:
    per_image = re.compile(r"^\s*\d+\s+\d+\s+\d+\s+RPs/Img:")  # Darknet's `index found total RPs/Img: ...`

    def recall_lines(r: Run) -> list[str]:
        return [x for _, x in r.lines if per_image.match(x)]

    root = tmp / "recall"
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    images = sorted((ROOT / "data" / "demo" / "images").glob("*.jpg"))
    for img in images:
        if not (root / "JPEGImages" / img.name).exists():
            shutil.copy(img, root / "JPEGImages" / img.name)
            shutil.copy(ROOT / "data" / "demo" / "labels" / (img.stem + ".txt"), root / "labels")
    listing = "".join(f"{root / 'JPEGImages' / i.name}\n" for i in images)
    (root / "data" / "coco_val_5k.list").write_text(listing)   # pjreddie's recall reads this list
    (root / "valid.txt").write_text(listing)                   # AlexeyAB's reads valid=
    data = root / "demo.data"
    data.write_text(f"classes = 3\nnames = {ROOT / 'data' / 'demo' / 'demo.names'}\nvalid = {root / 'valid.txt'}\n")
    cfg, weights = ROOT / "cfg" / "demo.cfg", ROOT / "data" / "demo" / "demo.weights"
    peer_cmd = [str(a.darknet), "detector", "recall", str(data), str(cfg), str(weights)]
    ours_cmd = darkpy("recall", data, cfg, weights)
    # an installed darkpy runs from the bytecode pip compiled at install; a checkout run under
    # PYTHONDONTWRITEBYTECODE would compile every module again in each timed run
    ours_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls = {"darknet": [], "darkpy": []}
    for i in range(a.repeats + 1):
        peer = run(peer_cmd, root, env=env, check=False)
        ours = run(ours_cmd, root, env=ours_env)
        if i == 0:  # the peer must have run recall over the images, or its time means nothing
            found = recall_lines(peer)
            if peer.code != 0 or len(found) != len(images):
                tail = " | ".join(x for _, x in peer.lines[-3:]) or "(no output)"
                print(f"recall: comparison not available with {a.darknet}: its `detector recall` exited "
                      f"{peer.code} after {peer.wall:.2f} s with {len(found)} of {len(images)} per-image "
                      f"recall lines (last output: {tail}); use Debian's /usr/bin/darknet "
                      f"(pjreddie's 2018 build, the recall peer of issue 24)")
                row(f"recall, {len(images)} demo images", "n/a", "-", "-", "<= 2x: not measured")
                return
            if len(recall_lines(ours)) != len(images):
                raise RuntimeError(f"darkpy recall printed {len(recall_lines(ours))} per-image lines for "
                                   f"{len(images)} images:\n{ours.out[-2000:]}")
            print(f"recall: last lines: darknet {found[-1].strip()!r}; darkpy {recall_lines(ours)[-1].strip()!r}")
            if a.peer_kind == "alexeyab":
                print("recall: issue 24's 2x target is against Debian's /usr/bin/darknet (pjreddie's 2018 build); "
                      "AlexeyAB's recall runs (in a few hundredths of a second) but counts its own numbers")
        walls["darknet"].append(peer.wall)
        walls["darkpy"].append(ours.wall)
    wd, wp = med(walls["darknet"][1:]), med(walls["darkpy"][1:])
    print(f"recall, {len(images)} demo images, whole process, {a.repeats} alternating runs: "
          f"darknet {wd:.2f} s ({' '.join(f'{w:.2f}' for w in walls['darknet'][1:])}), "
          f"darkpy {wp:.2f} s ({' '.join(f'{w:.2f}' for w in walls['darkpy'][1:])})")
    row(f"recall, {len(images)} demo images", f"{wd:.2f} s", f"{wp:.2f} s", f"time {wp / wd:.2f}x",
        f"<= 2x: {verdict(wp / wd <= 2)}")


def case_video(a, tmp: Path, env: dict) -> None:
    frames = 150
    video = make_video(tmp / "video640.avi", frames)
    models = {"yolov2-tiny-voc": 60.0} if a.quick else {"yolov2-tiny-voc": 60.0, "yolov2-voc": 20.0}
    for model, target in models.items():
        cfg = ROOT / "cfg" / f"{model}.cfg"
        weights = make_weights(cfg, tmp / f"{model}.weights", env)
        cmd = darkpy("detect", "--source", video, "--cfg", cfg, "--weights", weights, "--names",
                     ROOT / "data" / "voc.names", "--out", tmp / f"video_{model}.avi", "--no-show",
                     "--precision", "bf16")
        r = run(cmd, tmp, env=env)
        m = re.search(r"([\d.]+)\s*FPS", r.out, re.I)
        fps = float(m.group(1)) if m else float("nan")
        print(f"video {frames} frames 640x480, {model} 416 bf16: whole process {r.wall:.1f} s "
              f"({frames / r.wall:.1f} frames/s incl. start-up), darkpy's own count {fps:.1f} FPS")
        row(f"video 640x480, {model} bf16", "-", f"{fps:.1f} FPS", "-", f">= {target:g} FPS: {verdict(fps >= target)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vs-darknet", required=True, type=Path, help="the Darknet binary to compare with")
    ap.add_argument("--quick", action="store_true", help="smaller runs, one repeat (about 3 minutes)")
    ap.add_argument("--only", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--repeats", type=int, default=None, help="alternating runs per comparison")
    ap.add_argument("--train-subdivisions", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="keep generated inputs here (reused)")
    ap.add_argument("--folder-images", type=int, default=0,
                    help="images in the folder comparison (default 50, 20 with --quick; issue 24 names 500 "
                         "for the share of the forward)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the summary table here")
    a = ap.parse_args()
    a.darknet = a.vs_darknet.resolve()
    if not os.access(a.darknet, os.X_OK):
        raise SystemExit(f"{a.darknet}: not an executable Darknet binary")
    a.peer_kind = peer_kind(a.darknet)
    a.repeats = a.repeats or (1 if a.quick else 2)
    cases = [c.strip() for c in a.only.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown comparison(s): {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    env = env_for()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"run_all.py at {stamp}{' (--quick)' if a.quick else ''}",
              f"CPU: {cpu_info()}",
              f"Darknet: {a.darknet} ({'AlexeyAB' if a.peer_kind == 'alexeyab' else 'pjreddie/Debian'})",
              f"load average at start: {os.getloadavg()[0]:.2f}"]
    print("\n".join(header), flush=True)
    started = time.perf_counter()
    work = a.workdir or Path(tempfile.mkdtemp(prefix="darkpy_run_all_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for case in cases:
            t = time.perf_counter()
            try:
                globals()[f"case_{case}"](a, work, env)
            except Exception as exc:  # one broken comparison must not lose the others
                print(f"{case}: FAILED: {exc}")
                row(case, "-", "-", "-", f"failed: {str(exc).splitlines()[0][:120]}")
            print(f"  ({case}: {time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    footer = f"load average at end: {os.getloadavg()[0]:.2f}; total {time.perf_counter() - started:.0f} s"
    table = ["| work | Darknet | darkpy | ratio | target |", "|---|---|---|---|---|"]
    table += [f"| {' | '.join(r)} |" for r in ROWS]
    text = "\n".join(header + ["", *table, "", footer])
    print("\n" + text)
    if a.markdown:
        a.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
