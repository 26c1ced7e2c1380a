"""`darkpy serve`'s start-up pieces from Python: the model line and the config in user units."""
import pytest

pytest.importorskip("aiohttp")

from darkpy.serve.app import model_description, serve_config  # noqa: E402


def test_model_description():
    assert model_description("cfg/yolov2.cfg", "w/yolov2.weights") == "yolov2.cfg + yolov2.weights"
    assert model_description("a/demo.cfg", None, demo=True) == \
        "demo.cfg + random weights (the bundled demo model: 3 synthetic shapes)"


def test_serve_config_converts_units():
    c = serve_config(port=0, max_body_mb=1, max_megapixels=2, max_wait_ms=10, model="m")
    assert (c.port, c.max_body, c.max_pixels, c.max_wait, c.model) == (0, 1 << 20, 2_000_000, 0.01, "m")
