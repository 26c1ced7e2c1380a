"""The one cfg reader: lossless, editable, first value wins (as in Darknet) for every user."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from darkpy.anchors.cfgedit import write_anchors
from darkpy.net.cfg import parse_cfg, parse_cfg_document, read_cfg_document
from darkpy.net.model import parse_network

CFG = ("# a comment\r\n[net]\r\nwidth = 64\r\nheight=64\r\nchannels=3\r\n\r\n[convolutional]\r\nfilters = 12  \r\n"
       "size=1\r\nactivation=linear\r\n\r\n[region]\r\nanchors = 1,1,  2,2\r\nanchors = 9,9,  9,9\r\n"
       "classes=1\r\nnum=2\r\n")


def test_untouched_document_is_byte_identical(tmp_path, repo):
    for name in ("yolov2-voc.cfg", "yolo9000.cfg", "demo.cfg"):
        raw = (repo / "cfg" / name).read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = read_cfg_document(repo / "cfg" / name)
        assert doc.text().encode("utf-8", "surrogateescape") == raw
    weird = tmp_path / "w.cfg"
    weird.write_bytes(b"[net]\nwidth=8 # caf\xe9\nheight=8")          # not UTF-8, no final newline
    doc = read_cfg_document(weird)
    doc.write()
    assert weird.read_bytes() == b"[net]\nwidth=8 # caf\xe9\nheight=8"


def test_set_edits_one_line_and_keeps_everything_else():
    with pytest.warns(UserWarning, match="'anchors' repeated in \\[region\\]; Darknet keeps the first"):
        doc = parse_cfg_document(CFG, "t.cfg")
    region = doc.sections[-1]
    assert region.get("anchors") == "1,1,2,2"                      # first value wins
    change = doc.set(region, "classes", "3")
    assert str(change) == "line 15: classes=1 -> classes=3"
    doc.set(region, "coords", "4", after="classes")
    assert doc.set(region, "num", "2") is None                     # unchanged value: no edit
    assert doc.text() == CFG.replace("classes=1\r\n", "classes=3\r\ncoords=4\r\n")


def test_builder_and_anchor_writer_read_the_same_first_value(tmp_path):
    """Before one reader, kmeans --write-cfg kept the LAST of repeated keys, the builder the first."""
    cfg = tmp_path / "dup.cfg"
    cfg.write_text(CFG.replace("\r\n", "\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = parse_network(cfg)
        assert net.detection_layers[0].num == 2
        changes = write_anchors(cfg, np.array([[0.5, 0.5], [0.25, 0.25]]), stride=32)
        lines = cfg.read_text().splitlines()
        assert [str(c) for c in changes][-1].startswith("line 13: anchors = 1,1,  2,2 -> anchors = ")
        assert lines[13] == "anchors = 9,9,  9,9"                  # the ignored duplicate is left alone
        region = [s for s in parse_cfg(cfg) if s.name == "region"][0]
        assert region.floats("anchors") == [1.0, 1.0, 0.5, 0.5]     # 64 / 32 = 2 cells
