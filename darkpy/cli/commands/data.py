"""`darkpy data ...`: convert VOC / COCO annotations, check, describe or generate data sets."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

group = typer.Typer(
    help="Data sets in Darknet's layout: convert VOC/COCO, check, stats, generate a demo set.",
    no_args_is_help=True,
)


@contextmanager
def _progress(what: str) -> Iterator[tuple]:
    """(set_total, advance) callbacks driving one rich progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(what, total=None)
        yield (lambda n: bar.update(task, total=n)), (lambda n: bar.advance(task, n))


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@group.command("voc")
def voc(
    devkit: Path = typer.Argument(..., help="The VOCdevkit folder (holding VOC2007/, VOC2012/)."),
    sets: List[str] = typer.Option(["2007:trainval,2012:trainval,2007:test"], "--sets",
                                   help="YEAR:SET items, comma-separated or repeated."),
    out: Path = typer.Option(Path("."), "-o", "--out", help="Output folder."),
    difficult: bool = typer.Option(False, "--difficult/--no-difficult",
                                   help="Keep difficult objects in the training labels "
                                        "(Darknet drops them)."),
    names: Optional[Path] = typer.Option(None, "--names",
                                         help="Class names file (default: VOC's 20 classes)."),
) -> None:
    """PASCAL VOC XML to Darknet labels, lists, voc.names and voc.data (as voc_label.py)."""
    from darkpy.data import voc as voc_mod
    from darkpy.formats.datafile import read_names

    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(out, [devkit, names])
    classes = read_names(names) if names else voc_mod.VOC_CLASSES
    with _progress("converting VOC") as (total, advance):
        result = voc_mod.convert(devkit, sets, out, difficult=difficult, classes=classes,
                                 progress=advance, total=total)
    c = _console()
    c.print(f"{result.images} images, {result.boxes} boxes"
            f" ({result.difficult_skipped} difficult left out)" if not difficult else
            f"{result.images} images, {result.boxes} boxes (difficult kept)")
    if result.unknown_classes:
        c.print("skipped objects of unknown classes: "
                + ", ".join(f"{k} ({v})" for k, v in result.unknown_classes.most_common()))
    for key, path in result.lists.items():
        c.print(f"  {key:>14}: {path}")
    c.print(f"wrote {result.data}")


@group.command("coco")
def coco(
    annotations: Path = typer.Argument(..., help="A COCO instances_*.json file."),
    images: Path = typer.Option(..., "--images", help="Folder holding that file's images."),
    out: Path = typer.Option(Path("."), "-o", "--out", help="Output folder."),
    split: Optional[str] = typer.Option(None, "--split",
                                        help="Name of this part (default: the image folder's name)."),
    role: Optional[str] = typer.Option(None, "--role",
                                       help="train or valid: which .data entry this list fills "
                                            "(default: valid if the split name contains 'val')."),
) -> None:
    """COCO JSON to Darknet labels, a list, coco.names, coco.map (category ids) and coco.data."""
    from darkpy.data import coco as coco_mod

    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(out, [annotations, images])
    with _progress("converting COCO") as (total, advance):
        result = coco_mod.convert(annotations, images, out, split=split, role=role,
                                  progress=advance, total=total)
    c = _console()
    c.print(f"{result.images} images, {result.boxes} boxes; skipped {result.crowd_skipped} crowd and "
            f"{result.degenerate_skipped} empty boxes")
    c.print(f"wrote {result.list} and {result.data}")


@group.command("check")
def check(
    target: Path = typer.Argument(..., help="A .data file (its train and valid lists) or an image list."),
    classes: Optional[int] = typer.Option(None, "--classes",
                                          help="Number of classes (default: from the .data file)."),
    decode: bool = typer.Option(False, "--decode",
                                help="Decode every image fully instead of reading its header."),
    fix: bool = typer.Option(False, "--fix",
                             help="Write cleaned lists beside the originals (NAME.fixed.txt)."),
    workers: int = typer.Option(8, "--workers", help="Threads reading files."),
    no_cache: bool = typer.Option(
        False, "--no-cache",
        help="Read every label file again instead of taking unchanged ones from the label cache."),
) -> None:
    """Check every image and label file; exit code 1 if any entry is broken."""
    from darkpy.data import check as check_mod
    from darkpy.data.summary import print_check
    from darkpy.formats.labelcache import LabelCache

    with _progress("checking") as (total, advance):
        report = check_mod.check(target, classes=classes, decode=decode, workers=workers,
                                 progress=advance, total=total,
                                 cache=None if no_cache else LabelCache())
    c = _console()
    print_check(report, c)
    if fix:
        for path in check_mod.write_fixed(report):
            c.print(f"wrote {path}")
    if not report.ok:
        raise typer.Exit(1)


@group.command("synth")
def synth(
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    images: int = typer.Option(500, "--images", help="Number of images."),
    classes: int = typer.Option(4, "--classes", help="Number of shape classes (1-8)."),
    size: int = typer.Option(128, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    valid: float = typer.Option(0.2, "--valid", help="Fraction of images in the validation list."),
    name: str = typer.Option("synth", "--name", help="Base name of the .names and .data files."),
) -> None:
    """Generate a detection data set of shapes on textured backgrounds (exact boxes)."""
    from darkpy.data.synth import generate

    with _progress("generating") as (total, advance):
        total(images)
        data = generate(out, images=images, classes=classes, size=size, seed=seed, valid=valid,
                        name=name, progress=advance)
    _console().print(f"wrote {images} images and {data}")


@group.command("stats")
def stats(
    target: Path = typer.Argument(..., help="A .data file (its train list) or an image list."),
    out: Optional[Path] = typer.Option(None, "-o", "--out",
                                       help="Scatter PNG (default: NAME_boxes.png here)."),
    no_cache: bool = typer.Option(
        False, "--no-cache",
        help="Read every label file again instead of taking unchanged ones from the label cache."),
) -> None:
    """Boxes per class and a width/height scatter of the boxes (the input to kmeans)."""
    from darkpy.data import stats as stats_mod
    from darkpy.data.summary import print_stats
    from darkpy.formats.labelcache import LabelCache

    from darkpy.fileio import refuse_overwrite

    refuse_overwrite(out, [target])
    result = stats_mod.collect(target, cache=None if no_cache else LabelCache())
    c = _console()
    print_stats(result, c)
    png = stats_mod.scatter(result, out or Path(f"{target.stem}_boxes.png"),
                            title=f"box sizes: {target.name}")
    c.print(f"wrote {png}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="data")
