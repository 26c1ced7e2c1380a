"""darkpy: Darknet's YOLOv2 and YOLO9000 toolkit on PyTorch.

Reads Darknet's own files (.cfg, .weights, .data, image lists with label .txt files) as they are.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_network"]


def __getattr__(name: str):
    # Lazy: `darkpy --help` and the network-free tools (kmeans, data, wordtree) must not pay
    # for importing torch.
    if name == "load_network":
        from darkpy.net.model import load_network

        return load_network
    raise AttributeError(name)
