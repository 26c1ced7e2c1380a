"""darkpy: Darknet's YOLOv2 and YOLO9000 toolkit on PyTorch.

Reads Darknet's own files (.cfg, .weights, .data, image lists with label .txt files) as they are.

    import darkpy
    detector = darkpy.Detector("cfg/demo.cfg", "data/demo/demo.weights")
    results = detector.detect(["data/demo/images/001988.jpg"])
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["__version__", "load_network", "Detector", "DetectOptions", "DetectionResult"]

# Lazy: `import darkpy`, `darkpy --help` and the network-free tools (kmeans, data, wordtree) must
# not pay for importing torch.
_LAZY = {
    "load_network": "darkpy.net.model",
    "Detector": "darkpy.detect.detector",
    "DetectOptions": "darkpy.detect.options",
    "DetectionResult": "darkpy.detect.results",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'darkpy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
