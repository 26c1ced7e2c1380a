"""Layer families. Each module registers its classes by cfg section name; importing this package
imports them all, so the registry is complete."""
from __future__ import annotations

import importlib
import pkgutil

from darkpy.net.layers.base import REGISTRY, BuildContext, Layer, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["REGISTRY", "BuildContext", "Layer", "register"]
