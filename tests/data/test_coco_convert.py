import json
from pathlib import Path

import pytest

from darkpy.data.coco import convert
from darkpy.formats.datafile import read_data_file
from darkpy.errors import DataError
from darkpy.formats.labels import label_path_for


def test_labels_are_centre_size_normalised_with_crowd_and_outside_boxes_skipped(coco_files, tmp_path):
    ann, images = coco_files
    out = tmp_path / "out"
    result = convert(ann, images, out)
    labels = out / "labels" / "val2017"
    assert (labels / "000000000001.txt").read_text().splitlines() == [
        "0 0.093750 0.093750 0.156250 0.104167",   # [10, 20, 100, 50] in 640x480
        "2 0.968750 0.098958 0.062500 0.197917",   # clipped to the image: x 600..640, y 0..95
    ]
    assert (labels / "000000000002.txt").read_text().splitlines() == ["1 0.500000 0.500000 0.500000 0.500000"]
    assert (labels / "000000000003.txt").read_text() == ""  # no objects: an empty label file
    assert (result.images, result.boxes, result.crowd_skipped, result.degenerate_skipped) == (3, 3, 1, 1)


def test_names_in_category_order_and_id_map_for_the_gap(coco_files, tmp_path):
    ann, images = coco_files
    convert(ann, images, tmp_path / "out")
    assert (tmp_path / "out/coco.names").read_text() == "person\nbicycle\nairplane\n"
    assert (tmp_path / "out/coco.map").read_text() == "1\n2\n5\n"


def test_list_and_data_file(coco_files, tmp_path):
    ann, images = coco_files
    out = (tmp_path / "out").resolve()
    convert(ann, images, out)
    entries = (out / "val2017.txt").read_text().splitlines()
    assert entries == [str(out / "images/val2017" / f"00000000000{i}.jpg") for i in (1, 2, 3)]
    for entry in entries:
        assert Path(entry).is_file() and label_path_for(entry).is_file()
    data = read_data_file(out / "coco.data")
    assert data.options["classes"] == "3"
    assert data.options["valid"] == str(out / "val2017.txt")
    assert data.options["map"] == str(out / "coco.map")
    assert data.options["names"] == str(out / "coco.names")


def test_second_split_fills_the_other_data_entry(coco_files, tmp_path):
    ann, images = coco_files
    out = (tmp_path / "out").resolve()
    convert(ann, images, out)
    convert(ann, images, out, split="train2017")
    data = read_data_file(out / "coco.data")
    assert data.options["train"] == str(out / "train2017.txt")
    assert data.options["valid"] == str(out / "val2017.txt")


def _edit(ann: Path, change) -> None:
    doc = json.loads(ann.read_text())
    change(doc)
    ann.write_text(json.dumps(doc))


def _fails(ann, images, tmp_path, pattern):
    with pytest.raises(DataError, match=pattern) as err:
        convert(ann, images, tmp_path / "out")
    assert str(ann) in str(err.value)
    assert not (tmp_path / "out").exists()


def test_missing_top_level_key(coco_files, tmp_path):
    ann, images = coco_files
    _edit(ann, lambda d: d.pop("categories"))
    _fails(ann, images, tmp_path, "missing top-level key 'categories'")


def test_annotation_missing_bbox_names_the_entry(coco_files, tmp_path):
    ann, images = coco_files
    _edit(ann, lambda d: d["annotations"][3].pop("bbox"))
    _fails(ann, images, tmp_path, r"annotations\[3\] \(id 13\): missing key 'bbox'")


def test_image_missing_width_names_the_entry(coco_files, tmp_path):
    ann, images = coco_files
    _edit(ann, lambda d: d["images"][1].pop("width"))
    _fails(ann, images, tmp_path, r"images\[1\] \(id 2\): missing key 'width'")


def test_annotation_of_unknown_image_id(coco_files, tmp_path):
    ann, images = coco_files
    _edit(ann, lambda d: d["annotations"][0].update(image_id=99))
    _fails(ann, images, tmp_path, r"annotations\[0\] \(id 10\): image_id 99 is not in 'images'")


def test_image_entry_without_a_file(coco_files, tmp_path):
    ann, images = coco_files
    (images / "000000000002.jpg").unlink()
    _fails(ann, images, tmp_path, r"images\[1\] \(id 2\): no image file .*000000000002\.jpg")


def test_unknown_category(coco_files, tmp_path):
    ann, images = coco_files
    _edit(ann, lambda d: d["annotations"][1].update(category_id=3))
    _fails(ann, images, tmp_path, r"annotations\[1\] \(id 11\): category_id 3 is not in 'categories'")


def test_not_json(coco_files, tmp_path):
    ann, images = coco_files
    ann.write_text('{"images": [\n')
    _fails(ann, images, tmp_path, "not valid JSON")


def test_cli_coco(cli, coco_files, tmp_path):
    ann, images = coco_files
    code, out, _ = cli("data", "coco", ann, "--images", images, "-o", tmp_path / "out")
    assert code == 0, out
    assert "3 images, 3 boxes; skipped 1 crowd and 1 empty boxes" in out
    ann.write_text("{}")
    code, _, err = cli("data", "coco", ann, "--images", images, "-o", tmp_path / "out")
    assert code == 2 and "missing top-level key 'images'" in err


def test_a_split_alexeyab_does_not_map_is_warned(tmp_path):
    """Issue 20: AlexeyAB's Darknet maps only COCO's own split folders to labels/."""
    import pytest

    from darkpy.data.layout import warn_one_darknet

    with pytest.warns(UserWarning, match="only pjreddie's finds them"):
        warn_one_darknet(tmp_path / "images" / "mysplit" / "x.jpg", tmp_path / "labels" / "mysplit" / "x.txt")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_one_darknet(tmp_path / "images" / "val2017" / "x.jpg", tmp_path / "labels" / "val2017" / "x.txt")
