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


def test_annotated_jpegs_are_written_at_darknets_quality(tmp_path, request):
    """Darknet's save_image writes JPEG quality 80 (OpenCV's default 95 doubles the file)."""
    import cv2
    import numpy as np

    from darkpy.detect.detector import Detector
    from darkpy.detect.options import DetectOptions
    from darkpy.detect.output import draw_detections, jpeg_quality
    from darkpy.detect.report import write_results

    assert jpeg_quality("a/b.JPG") == [cv2.IMWRITE_JPEG_QUALITY, 80] and jpeg_quality("a.png") == []
    root = request.config.rootpath
    image = root / "data" / "demo" / "images" / "001988.jpg"
    det = Detector(root / "cfg" / "demo.cfg", root / "data" / "demo" / "demo.weights",
                   DetectOptions(thresh=0.1, device="cpu", keep_image=True))
    out = tmp_path / "p.jpg"
    write_results(det, [str(image)], 3, out=out, save=True, as_json=True, echo=lambda *a, **k: None)
    (res,) = det.detect([str(image)])
    want = cv2.imencode(".jpg", draw_detections(res.image, res.detections, 3), [cv2.IMWRITE_JPEG_QUALITY, 80])[1]
    assert out.read_bytes() == np.asarray(want).tobytes()
