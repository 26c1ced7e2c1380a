"""Torch layer families. Each module registers its classes by layer spec (darkpy.net.spec);
importing this package imports them all, so the registry is complete."""
from __future__ import annotations

import importlib
import pkgutil

from darkpy.net.layers.base import REGISTRY, Layer, build_layer, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["REGISTRY", "Layer", "build_layer", "register"]
