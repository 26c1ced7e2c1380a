"""darkpy.detect.report from Python: where annotated images go and the closing line."""
from pathlib import Path

from darkpy.detect.report import AlexeyABExtras, RunReport, output_path


def test_output_path_one_image_many_images(tmp_path):
    assert output_path(None, "a/dog.png", many=False) == Path("predictions.jpg")
    assert output_path(None, "a/dog.png", many=True) == Path("predictions") / "dog.jpg"
    assert output_path(tmp_path / "x.png", "a/dog.png", many=False) == tmp_path / "x.png"
    assert output_path(tmp_path / "o", "a/dog.png", many=False) == tmp_path / "o" / "dog.jpg"


def test_summary_names_what_was_written():
    assert RunReport(1, set()).summary() == "darkpy: 1 image"
    assert RunReport(1, {Path("p.jpg")}).summary(" (bf16)") == "darkpy: 1 image (bf16); wrote p.jpg"
    two = RunReport(2, {Path("o/a.jpg"), Path("o/b.jpg")}).summary()
    assert two == "darkpy: 2 images; wrote 2 annotated images to o"
    assert RunReport(2, {Path("o/a.jpg"), Path("p/a.jpg")}).summary().endswith("to 2 folders")


def test_extras_leave_lines_alone_when_not_asked():
    assert AlexeyABExtras().lines(None, ["dog: 82%"]) == ["dog: 82%"]
