"""Training losses that reproduce Darknet's numbers."""
from darkpy.losses.region import RegionLoss, RegionLossResult

__all__ = ["RegionLoss", "RegionLossResult"]
