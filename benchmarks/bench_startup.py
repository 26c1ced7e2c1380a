"""Whole-process detection against Darknet: `darkpy detect IMG` vs Debian's `darknet detector
test` on the same image and the same weights file, runs alternating, as a ratio; then throughput
on a folder of images (one process each, every image written annotated by both).

    .venv/bin/python benchmarks/bench_startup.py [--repeats 3] [--images 50] [--precision auto]
                                                 [--engines numpy,torch] [--folder-cfg yolov2-tiny-voc]
                                                 [--darknet /usr/bin/darknet]

One image runs once per engine of --engines (`darkpy detect --engine E`: numpy is the torch-free
engine that `--engine auto` picks for up to 4 images, torch the torch one), alternating with
Darknet. The folder runs `--engine auto`, which is torch for 50 images.

The weights are random, written by darkpy's own writer in Darknet's format (the speed does not
depend on the values; nothing is downloaded). Darknet is the `darknet` package (pjreddie's
sources, OpenMP + BLAS build), run as `darknet detector test voc.data CFG WEIGHTS IMG -out F`;
with no image it reads paths from stdin, which is how it gets the folder in one process. Wall
time and peak RSS come from /usr/bin/time. Targets (issue 15): one image, yolov2-voc <= 0.5x
Darknet's wall, tiny <= 1.0x; the folder >= 4x Darknet's images/s. The machine's CPU and load
are printed: on a shared machine only the ratios of alternating runs mean anything.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DARKNET_SHARE = Path("/usr/share/darknet")


def timed(cmd: list[str], cwd: Path, stdin: str | None = None, env=None) -> tuple[float, int, float]:
    """(wall seconds, peak RSS MiB, CPU seconds user+sys) of one process, from GNU time."""
    out = cwd / "time.txt"
    run = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(out), *cmd], cwd=cwd, input=stdin,
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise SystemExit(f"failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr[-2000:]}")
    wall, rss, user, system = out.read_text().split()[-4:]
    return float(wall), int(rss) // 1024, float(user) + float(system)


def make_weights(cfg: Path, folder: Path) -> Path:
    import darkpy

    path = folder / (cfg.stem + ".weights")
    if not path.exists():
        darkpy.load_network(cfg, device="cpu").save_weights(path)
    return path


def make_folder(folder: Path, n: int) -> list[Path]:
    """n distinct photos from data/*.jpg (flipped and cropped variants)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "data").glob("*.jpg"))
    paths = []
    for i in range(n):
        img = cv2.imread(str(sources[i % len(sources)]))
        k = i // len(sources)
        if k % 2:
            img = img[:, ::-1]
        h, w = img.shape[:2]
        c = (k // 2) * 8
        img = img[c: h - c, c: w - c]
        p = folder / f"img{i:03d}.jpg"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


def summary(xs: list[float]) -> str:
    return f"best {min(xs):.2f} s, median {statistics.median(xs):.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--images", type=int, default=50, help="folder size for the throughput run (0: skip)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--engines", default="numpy,torch", help="darkpy engines timed on one image")
    ap.add_argument("--models", default="yolov2-voc,yolov2-tiny-voc")
    ap.add_argument("--folder-cfg", default="yolov2-tiny-voc", help="model of the throughput run")
    ap.add_argument("--darknet", default=shutil.which("darknet") or "/usr/bin/darknet")
    ap.add_argument("--image", default=str(ROOT / "data" / "dog.jpg"))
    args = ap.parse_args()

    from darkpy.net.precision import cpu_summary

    print(f"CPU: {cpu_summary()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"darkpy: {sys.executable} -m darkpy detect --precision {args.precision}; darknet: {args.darknet}")
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    voc_data = DARKNET_SHARE / "cfg" / "voc.data"
    names = ROOT / "data" / "voc.names"
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as tmp:
        tmp = Path(tmp)
        (tmp / "data").symlink_to(DARKNET_SHARE / "data")  # Darknet loads its label glyphs from data/labels
        for model in [m for m in args.models.split(",") if m]:
            cfg = ROOT / "cfg" / f"{model}.cfg"
            weights = make_weights(cfg, tmp)
            size_mb = weights.stat().st_size / 2 ** 20
            cmds = {}
            for engine in [e for e in args.engines.split(",") if e]:
                cmds[f"darkpy {engine}"] = [
                    sys.executable, "-m", "darkpy", "detect", args.image, "--cfg", str(cfg), "--weights",
                    str(weights), "--names", str(names), "--out", str(tmp / "darkpy.jpg"),
                    "--precision", args.precision, "--engine", engine]
            cmds["darknet"] = [args.darknet, "detector", "test", str(voc_data), str(cfg), str(weights),
                               args.image, "-out", str(tmp / "darknet")]
            walls = {name: [] for name in cmds}
            cpus = {name: [] for name in cmds}
            rss = {name: 0 for name in cmds}
            for _ in range(args.repeats):
                for name, cmd in cmds.items():
                    w, r, c = timed(cmd, tmp, env=env)
                    walls[name].append(w)
                    cpus[name].append(c)
                    rss[name] = max(rss[name], r)
            print(f"{model} one image ({size_mb:.0f} MB weights), {args.repeats} alternating runs each:")
            for name in walls:
                print(f"  {name:13s} {summary(walls[name])}, CPU (user+sys) median "
                      f"{statistics.median(cpus[name]):.2f} s, peak RSS {rss[name]} MiB")
            for name in walls:
                if name != "darknet":
                    ratio_med = statistics.median(walls[name]) / statistics.median(walls["darknet"])
                    ratio_best = min(walls[name]) / min(walls["darknet"])
                    print(f"  {name} / darknet wall: {ratio_med:.2f} (medians), {ratio_best:.2f} (bests)")
        if args.images:
            cfg = ROOT / "cfg" / f"{args.folder_cfg}.cfg"
            weights = make_weights(cfg, tmp)
            paths = make_folder(tmp / "folder", args.images)
            dp = [sys.executable, "-m", "darkpy", "detect", str(tmp / "folder"), "--cfg", str(cfg),
                  "--weights", str(weights), "--names", str(names), "--out", str(tmp / "darkpy_out"),
                  "--precision", args.precision, "--engine", "auto"]
            dn = [args.darknet, "detector", "test", str(voc_data), str(cfg), str(weights), "-out",
                  str(tmp / "darknet")]
            listing = "".join(f"{p}\n" for p in paths)
            w_dp, _, c_dp = timed(dp, tmp, env=env)
            w_dn, _, c_dn = timed(dn, tmp, stdin=listing, env=env)
            got = len(list((tmp / "darkpy_out").glob("*.jpg")))
            print(f"{args.folder_cfg} folder of {args.images} images "
                  "(whole process, annotated images written):")
            print(f"  darkpy (auto: torch) {w_dp:.1f} s, {args.images / w_dp:.2f} images/s, CPU {c_dp:.1f} s "
                  f"({got} written)")
            print(f"  darknet {w_dn:.1f} s, {args.images / w_dn:.2f} images/s, CPU {c_dn:.1f} s")
            print(f"  darkpy / darknet images/s: {w_dn / w_dp:.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
