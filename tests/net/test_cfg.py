from __future__ import annotations

import pytest

import darkpy
from darkpy.net.cfg import parse_cfg_text
from darkpy.errors import CfgError
from darkpy.net.model import parse_network

NET = "[net]\nwidth=64\nheight=64\nchannels=3\n"


def build(text: str):
    return parse_network(NET + text)


def test_spaces_comments_and_aliases_are_read_as_darknet_does():
    secs = parse_cfg_text("[network]\n# c\n; c2\n width = 32 \nheight=32\nchannels= 3\n[conv]\nfilters =4\n"
                          "size=3\nactivation = leaky\nanchors = 1, 2 ,3\n")
    assert secs[0].name == "net" and secs[1].name == "convolutional"
    assert secs[0].int("width") == 32
    assert secs[1].floats("anchors") == [1.0, 2.0, 3.0]


def test_repeated_key_keeps_first_value_like_darknet():
    with pytest.warns(UserWarning, match="keeps the first value"):
        secs = parse_cfg_text("[net]\nbatch=1\nbatch=64\nwidth=8\nheight=8\nchannels=3\n")
    assert secs[0].int("batch") == 1


def test_unknown_key_names_file_line_and_layer():
    with pytest.raises(CfgError, match=r"<cfg>:6: layer 0 \[convolutional\]: unknown key 'filter'"):
        build("[convolutional]\nfilter=16\nsize=3\n")


def test_malformed_value_is_an_error_with_line():
    with pytest.raises(CfgError, match=r":6: .*'filters' must be an integer, got '1x6'"):
        build("[convolutional]\nfilters=1x6\n")


def test_option_without_equals_is_an_error():
    with pytest.raises(CfgError, match=r":6: expected 'key=value'"):
        build("[convolutional]\nfilters\n")


def test_unknown_section_is_an_error():
    with pytest.raises(CfgError, match=r"unknown section \[convolution\]"):
        build("[convolution]\nfilters=3\n")


def test_route_to_missing_layer_is_an_error():
    with pytest.raises(CfgError, match=r"layer 1 \[route\]: 'layers' refers to layer -5"):
        build("[convolutional]\nfilters=4\n[route]\nlayers=-5\n")


def test_route_of_different_sizes_is_an_error():
    with pytest.raises(CfgError, match="different sizes"):
        build("[convolutional]\nfilters=4\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=-1,-2\n")


def test_region_filters_mismatch_names_the_fix():
    text = "[convolutional]\nfilters=100\nsize=1\n[region]\nclasses=20\nnum=5\ncoords=4\n"
    with pytest.raises(CfgError, match=r"num\*\(coords\+1\+classes\).*filters=125"):
        build(text)


def test_yolo_filters_mismatch_is_an_error():
    text = "[convolutional]\nfilters=20\nsize=1\n[yolo]\nclasses=2\nmask=0,1\nnum=3\nanchors=1,1,2,2,3,3\n"
    with pytest.raises(CfgError, match="filters=14"):
        build(text)


def test_first_section_must_be_net():
    with pytest.raises(CfgError, match=r"first section must be \[net\]"):
        parse_cfg_text("[convolutional]\nfilters=1\n")


def test_unknown_activation_is_an_error():
    with pytest.raises(CfgError, match="unknown activation 'leeky'"):
        build("[convolutional]\nfilters=4\nactivation=leeky\n")


def test_every_reference_cfg_builds(repo):
    for cfg in sorted((repo / "cfg").glob("*.cfg")):
        if "9000" in cfg.name and not (repo / "data" / "9k.tree").exists():
            with pytest.raises(CfgError, match="tree file 'data/9k.tree' not found"):
                parse_network(cfg)
            continue
        net = parse_network(cfg)
        assert net.layers


def test_any_multiple_of_32_works_without_rebuilding_weights(repo):
    import torch

    net = darkpy.load_network(repo / "cfg" / "yolov2-tiny-voc.cfg", device="cpu")
    with torch.no_grad():
        for size in (320, 352, 608):
            assert net(torch.rand(1, 3, size, size)).shape == (1, 125, size // 32, size // 32)
