from pathlib import Path

import pytest

from darkpy.data.voc import VOC_CLASSES, convert, parse_sets, voc_box
from darkpy.errors import DataError, UsageError
from darkpy.formats.labels import label_path_for

SETS = "2007:trainval,2012:trainval,2007:test"
DOG = "11 0.241 0.8119999999999999 0.294 0.34933333333333333"
PERSON = "14 0.358 0.5066666666666666 0.6880000000000001 0.9546666666666667"
TRAIN = "18 0.299 0.2972972972972973 0.2 0.3003003003003003"
CAR = "6 0.019 0.013513513513513514 0.038 0.02702702702702703"
CAT = "7 0.4985835694050992 0.499 0.9971671388101984 0.998"
BIRD = "2 0.505 0.5133333333333333 0.982 0.968"


def test_voc_box_subtracts_one_from_the_centre_only():
    x, y, w, h = voc_box(500, 375, 48, 195, 240, 371)
    assert (x, w) == (((48 + 195) / 2 - 1) * (1 / 500), (195 - 48) * (1 / 500))
    assert (y, h) == (((240 + 371) / 2 - 1) * (1 / 375), (371 - 240) * (1 / 375))


def test_labels_match_voc_label_exactly_and_drop_difficult_by_default(devkit, tmp_path):
    out = tmp_path / "out"
    result = convert(devkit, SETS, out)
    assert (out / "VOC2007/labels/000001.txt").read_text().splitlines() == [DOG, PERSON]
    assert (out / "VOC2007/labels/000002.txt").read_text().splitlines() == [TRAIN]
    assert (out / "VOC2007/labels/000003.txt").read_text().splitlines() == [CAT]
    assert (out / "VOC2012/labels/2012_000001.txt").read_text().splitlines() == [BIRD]
    assert result.images == 4 and result.boxes == 5 and result.difficult_skipped == 1
    assert result.unknown_classes == {"unicorn": 1}


def test_truncated_objects_are_kept(devkit, tmp_path):
    convert(devkit, SETS, tmp_path / "out")
    assert PERSON in (tmp_path / "out/VOC2007/labels/000001.txt").read_text()


def test_difficult_switch_keeps_difficult_boxes(devkit, tmp_path):
    convert(devkit, SETS, tmp_path / "out", difficult=True)
    assert (tmp_path / "out/VOC2007/labels/000002.txt").read_text().splitlines() == [TRAIN, CAR]


def test_eval_side_file_keeps_every_box_with_its_difficult_flag(devkit, tmp_path):
    convert(devkit, SETS, tmp_path / "out")
    assert (tmp_path / "out/2007_trainval.eval.txt").read_text().splitlines() == [
        f"000001 {DOG} 0", f"000001 {PERSON} 0", f"000002 {TRAIN} 0", f"000002 {CAR} 1"]
    assert (tmp_path / "out/2007_test.eval.txt").read_text().splitlines() == [f"000003 {CAT} 0"]


def test_lists_names_and_data_file(devkit, tmp_path):
    out = (tmp_path / "out").resolve()
    convert(devkit, SETS, out)
    img = lambda y, i: str(out / f"VOC{y}" / "JPEGImages" / f"{i}.jpg")  # noqa: E731
    assert (out / "2007_trainval.txt").read_text().splitlines() == [
        img("2007", "000001"), img("2007", "000002")]
    assert (out / "2007_test.txt").read_text().splitlines() == [img("2007", "000003")]
    assert (out / "train.txt").read_text().splitlines() == [
        img("2007", "000001"), img("2007", "000002"), img("2012", "2012_000001")]
    assert (out / "voc.names").read_text().splitlines() == list(VOC_CLASSES)
    assert (out / "voc.data").read_text().splitlines() == [
        "classes = 20", f"train = {out / 'train.txt'}", f"valid = {out / '2007_test.txt'}",
        f"names = {out / 'voc.names'}", f"backup = {out / 'backup'}"]


def test_list_entries_lead_to_labels_by_darknets_rule(devkit, tmp_path):
    out = tmp_path / "out"
    convert(devkit, SETS, out)
    for entry in (out / "train.txt").read_text().splitlines():
        assert Path(entry).is_file()
        assert label_path_for(entry).is_file()
    assert not (devkit / "VOC2007" / "labels").exists()  # the devkit is never written to


def test_xml_without_size_names_the_file_and_writes_nothing(devkit, tmp_path):
    bad = devkit / "VOC2007/Annotations/000002.xml"
    bad.write_text("<annotation><object><name>dog</name></object></annotation>")
    with pytest.raises(DataError) as err:
        convert(devkit, SETS, tmp_path / "out")
    assert "000002.xml" in str(err.value) and "<size>" in str(err.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["VOCdevkit"]


def test_object_without_bndbox_names_the_object(devkit, tmp_path):
    (devkit / "VOC2007/Annotations/000001.xml").write_text(
        "<annotation><size><width>5</width><height>5</height></size>"
        "<object><name>dog</name><difficult>0</difficult></object></annotation>")
    with pytest.raises(DataError, match=r"000001\.xml: object 1 \(dog\): no <bndbox>"):
        convert(devkit, SETS, tmp_path / "out")


def test_broken_xml_reports_file_and_line(devkit, tmp_path):
    (devkit / "VOC2012/Annotations/2012_000001.xml").write_text("<annotation>\n<size>\n</annotation>")
    with pytest.raises(DataError, match=r"2012_000001\.xml:3: not valid XML"):
        convert(devkit, SETS, tmp_path / "out")


def test_missing_image_set_is_an_error(devkit, tmp_path):
    with pytest.raises(DataError, match="2012:test"):
        convert(devkit, "2012:test", tmp_path / "out")


def test_sets_syntax():
    assert parse_sets(["2007:trainval,2012:trainval", "2007:test", "2007:test"]) == [
        ("2007", "trainval"), ("2012", "trainval"), ("2007", "test")]
    with pytest.raises(UsageError):
        parse_sets("2007-trainval")


def test_output_path_darknet_would_misroute_is_refused(devkit, tmp_path):
    with pytest.raises(UsageError, match="'images' or 'raw'"):
        convert(devkit, SETS, tmp_path / "raw" / "out")


def test_converting_again_into_the_same_folder_works(devkit, tmp_path):
    convert(devkit, SETS, tmp_path / "out")
    convert(devkit, SETS, tmp_path / "out", difficult=True)
    assert CAR in (tmp_path / "out/VOC2007/labels/000002.txt").read_text()


def test_cli_voc(cli, devkit, tmp_path):
    code, out, _ = cli("data", "voc", devkit, "--sets", SETS, "-o", tmp_path / "out")
    assert code == 0, out
    assert "4 images, 5 boxes (1 difficult left out)" in out
    assert "unicorn (1)" in out


def test_cli_voc_bad_input_is_one_line_error(cli, devkit, tmp_path):
    (devkit / "VOC2007/Annotations/000001.xml").write_text("<annotation/>")
    code, _, err = cli("data", "voc", devkit, "--sets", SETS, "-o", tmp_path / "out")
    assert code == 2 and "000001.xml" in err
