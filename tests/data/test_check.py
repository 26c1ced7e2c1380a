from pathlib import Path

import numpy as np
import pytest

from darkpy.data.check import check, check_labels, fixed_path, write_fixed
from darkpy.data.synth import generate
from darkpy.formats.labels import label_path_for


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "set"
    return generate(root, images=8, classes=3, size=48, seed=1, valid=0.25)


@pytest.fixture
def work(dataset, tmp_path) -> tuple[Path, list[str]]:
    """A private copy of the list (images and labels are copied too, so tests may break them)."""
    import shutil

    root = tmp_path / "set"
    shutil.copytree(dataset.parent, root, symlinks=True)
    listed = (dataset.parent / "train.txt").read_text().split()
    entries = [e.replace(str(dataset.parent), str(root)) for e in listed]
    lst = root / "list.txt"
    lst.write_text("".join(e + "\n" for e in entries))
    return lst, entries


def kinds(report):
    return sorted({p.kind for p in report.problems})


def test_clean_list_passes(work):
    lst, entries = work
    report = check(lst, classes=3)
    assert report.ok and kinds(report) == []
    assert len(report.lists[0].entries) == len(entries) == 6


def test_data_file_checks_train_and_valid(dataset):
    report = check(dataset)
    assert report.ok
    assert [lc.role for lc in report.lists] == ["train", "valid"]
    assert [len(lc.entries) for lc in report.lists] == [6, 2]
    assert report.classes == 3 and report.names == ["circle", "square", "triangle"]


@pytest.mark.parametrize("damage, kind", [
    (lambda img, lab: img.unlink(), "missing-image"),
    (lambda img, lab: img.write_bytes(b"not an image at all"), "unreadable-image"),
    (lambda img, lab: img.write_bytes(b""), "unreadable-image"),
    (lambda img, lab: img.write_bytes(img.read_bytes()[:40]), "unreadable-image"),
    (lambda img, lab: lab.unlink(), "missing-label"),
    (lambda img, lab: lab.write_text("0 0.5 0.5 0.2\n"), "bad-label"),
    (lambda img, lab: lab.write_text("0 0.5 0.5 0.2 zero\n"), "bad-label"),
    (lambda img, lab: lab.write_text("3 0.5 0.5 0.2 0.2\n"), "class-range"),
    (lambda img, lab: lab.write_text("-1 0.5 0.5 0.2 0.2\n"), "class-range"),
    (lambda img, lab: lab.write_text("0.5 0.5 0.5 0.2 0.2\n"), "class-range"),
    (lambda img, lab: lab.write_text("0 1.5 0.5 0.2 0.2\n"), "bad-coordinates"),
    (lambda img, lab: lab.write_text("0 -0.1 0.5 0.2 0.2\n"), "bad-coordinates"),
    (lambda img, lab: lab.write_text("0 0.5 0.5 0.2 nan\n"), "bad-coordinates"),
    (lambda img, lab: lab.write_text("0 0.5 0.5 0 0.2\n"), "zero-size"),
])
def test_each_breakage_is_reported_with_its_entry(work, damage, kind):
    lst, entries = work
    damage(Path(entries[2]), label_path_for(entries[2]))
    report = check(lst, classes=3)
    assert not report.ok
    assert kinds(report) == [kind]
    (problem,) = report.problems
    assert problem.line == 3 and problem.image == entries[2]
    assert not report.lists[0].good[2] and report.lists[0].good.sum() == 5


def test_duplicates_are_errors_pointing_at_the_first(work):
    lst, entries = work
    lst.write_text("".join(e + "\n" for e in entries + [entries[0]]))
    report = check(lst, classes=3)
    assert kinds(report) == ["duplicate"]
    assert "repeats line 1" in report.problems[0].detail and report.problems[0].line == 7


def test_empty_label_is_a_warning_not_an_error(work):
    lst, entries = work
    label_path_for(entries[0]).write_text("\n")
    report = check(lst, classes=3)
    assert report.ok and kinds(report) == ["empty-label"]


def test_without_classes_any_non_negative_class_passes(work):
    lst, entries = work
    label_path_for(entries[0]).write_text("77 0.5 0.5 0.2 0.2\n")
    assert check(lst).ok


def test_decode_reads_other_formats(work):
    import cv2
    import numpy as np

    lst, entries = work
    png = Path(entries[1]).with_suffix(".png")
    cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    label_path_for(png).write_text("0 0.5 0.5 0.5 0.5\n")
    lst.write_text(str(png) + "\n")
    assert check(lst, classes=3, decode=True).ok


def test_fix_writes_cleaned_list_beside_and_leaves_the_original(work):
    lst, entries = work
    original = "".join(e + "\n" for e in entries + [entries[0]])
    lst.write_text(original)
    Path(entries[4]).unlink()
    report = check(lst, classes=3)
    (written,) = write_fixed(report)
    assert written == fixed_path(lst) == lst.with_name("list.fixed.txt")
    assert written.read_text().split() == [e for i, e in enumerate(entries) if i != 4]
    assert lst.read_text() == original


def test_fix_of_a_data_file_writes_fixed_data(dataset, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(dataset.parent, root)
    data = root / "synth.data"
    text = data.read_text().replace(str(dataset.parent), str(root))
    data.write_text(text)
    for name in ("train.txt", "valid.txt"):
        (root / name).write_text((root / name).read_text().replace(str(dataset.parent), str(root)))
    report = check(data)
    written = write_fixed(report)
    assert [p.name for p in written] == ["train.fixed.txt", "valid.fixed.txt", "synth.fixed.data"]
    fixed = (root / "synth.fixed.data").read_text()
    assert f"train = {root / 'train.fixed.txt'}" in fixed and f"valid = {root / 'valid.fixed.txt'}" in fixed
    assert data.read_text() == text


def test_check_labels_collects_all_bad_lines():
    boxes, bad, _ = check_labels("0 0.5 0.5 0.1 0.1\n1 2\n\n2 0.5 0.5 0.1 0.1\n", classes=2)
    assert boxes.tolist() == [[0, 0.5, 0.5, pytest.approx(0.1), pytest.approx(0.1)]]
    assert [(line, kind) for line, kind, _ in bad] == [(2, "bad-label"), (4, "class-range")]


def test_cli_exit_codes_and_listing(cli, work):
    lst, entries = work
    code, out, _ = cli("data", "check", lst, "--classes", "3")
    assert code == 0 and "ok" in out
    for e in entries:
        label_path_for(e).unlink()
    code, out, _ = cli("data", "check", lst, "--classes", "3")
    assert code == 1
    assert sum(line.startswith("missing-label ") for line in out.splitlines()) == 6
    assert "6 errors" in out


def test_cli_lists_first_twenty_then_counts(cli, work):
    lst, entries = work
    lst.write_text("".join(f"/nowhere/{i}.jpg\n" for i in range(25)))
    code, out, _ = cli("data", "check", lst)
    assert code == 1
    assert "... and 30 more errors" in out  # 25 missing images + 25 missing labels, 20 shown


def test_cli_fix(cli, work):
    lst, entries = work
    Path(entries[0]).unlink()
    code, out, _ = cli("data", "check", lst, "--fix")
    assert code == 1 and "list.fixed.txt" in out
    assert lst.with_name("list.fixed.txt").read_text().split() == entries[1:]


def test_cli_missing_target_is_user_error(cli, tmp_path):
    code, _, err = cli("data", "check", tmp_path / "nope.data")
    assert code == 2 and "nope.data" in err


def test_empty_list_is_a_user_error(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("\n")
    code, _, err = cli("data", "check", tmp_path / "empty.txt")
    assert code == 2 and "empty.txt" in err and "no entries" in err


def test_class_only_lines_are_counted_by_check_and_stats(tmp_path):
    import cv2

    from darkpy.data.stats import collect

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for name, text in (("a", "0 0.5 0.5 0.2 0.2\n"), ("b", "1 0 0 1 1\n"), ("c", "1 1000000 1000000 1 1\n")):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), np.zeros((8, 8, 3), np.uint8))
        (tmp_path / "labels" / f"{name}.txt").write_text(text)
    lst = tmp_path / "list.txt"
    lst.write_text("".join(f"{tmp_path}/images/{n}.png\n" for n in "abc"))
    report = check(lst, classes=2)
    assert report.ok, report.problems
    assert report.lists[0].class_only == 2 and len(report.lists[0].boxes) == 1
    stats = collect(lst)
    assert stats.class_only == 2 and len(stats.boxes) == 1
