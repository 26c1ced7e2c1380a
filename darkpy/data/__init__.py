"""Data sets in Darknet's layout: converters from VOC and COCO, a checker, statistics and a
generated demo set. Independent of the network code (no torch import)."""
