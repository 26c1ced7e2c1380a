"""The table of every Darknet flag (darkpy.cli.flags): each flag of both Darknets' `detector` and
`classifier` commands parses for every verb, and reaches the darkpy option the table names."""
from __future__ import annotations

import pytest

from darkpy.cli import load_commands
from darkpy.cli.darknet import DETECTOR, is_flag_word, option_arity, translate
from darkpy.cli.flags import FLAGS, VERBS, flags_of, table_markdown, translate_flags
from darkpy.errors import UsageError

# Every flag both Darknets read with find_arg / find_int_arg / find_float_arg / find_char_arg in
# run_detector, run_classifier and main (pjreddie: examples/detector.c, classifier.c, darknet.c;
# AlexeyAB: src/detector.c, classifier.c, darknet.c), as read from their sources.
PJREDDIE = {
    "detector": {"-prefix", "-thresh", "-hier", "-c", "-s", "-avg", "-gpus", "-out", "-clear", "-fullscreen",
                 "-w", "-h", "-fps", "-i", "-nogpu"},
    "classifier": {"-gpus", "-c", "-t", "-clear", "-i", "-nogpu"},
}
ALEXEYAB = {
    "detector": {"-dont_show", "-benchmark", "-benchmark_layers", "-show", "-letter_box", "-map", "-points",
                 "-check_mistakes", "-show_imgs", "-mjpeg_port", "-avgframes", "-dontdraw_bbox", "-json_port", "-http_post_host",
                 "-time_limit_sec", "-out_filename", "-json_file_output", "-out", "-prefix", "-thresh",
                 "-iou_thresh", "-hier", "-c", "-s", "-num_of_clusters", "-width", "-height", "-ext_output",
                 "-save_labels", "-chart", "-mAP_epochs", "-gpus", "-clear", "-i", "-cuda_debug_sync"},
    "classifier": {"-mjpeg_port", "-gpus", "-dont_show", "-benchmark", "-benchmark_layers", "-dontuse_opencv",
                   "-show_imgs", "-topk", "-c", "-t", "-clear", "-chart", "-i", "-cuda_debug_sync"},
}
DARKNET_VERBS = {
    "detector": {"test", "train", "valid", "valid2", "recall", "demo", "map", "calc_anchors", "draw"},
    "classifier": {"predict", "fout", "try", "train", "demo", "gun", "threat", "test", "csv", "label", "valid",
                   "validmulti", "valid10", "validcrop", "validfull"},
}
SAMPLE = {"int": "1", "float": "0.3", "text": "x"}


@pytest.fixture(scope="module")
def commands():
    import typer.main

    from darkpy.cli import app

    load_commands()
    return typer.main.get_command(app)


def _command(root, path):
    cmd = root
    for name in path:
        cmd = cmd.commands[name]
    return cmd


@pytest.mark.parametrize("family", ["detector", "classifier"])
def test_the_table_holds_every_flag_and_verb_of_both_darknets(family):
    declared = set(flags_of(family))
    assert PJREDDIE[family] | ALEXEYAB[family] <= declared, sorted((PJREDDIE[family] | ALEXEYAB[family]) - declared)
    assert set(VERBS[family]) == DARKNET_VERBS[family]
    for verb, (command, why) in VERBS[family].items():
        assert command is not None or why, f"{family} {verb}: no darkpy command and no reason"


def test_each_flag_says_what_darkpy_does_with_it():
    for f in FLAGS:
        assert f.meaning and f.source and f.takes in ("", "int", "float", "text")
        assert f.uses, f"{f.family} {f.name}: used by no verb"
        for verb, option in f.uses.items():
            assert verb in VERBS[f.family], (f.name, verb)
            if option is None:
                assert f.why, f"{f.family} {f.name} ({verb}): ignored without a reason"
    assert "`-dont_show`" in table_markdown()


@pytest.mark.parametrize("flag", FLAGS, ids=lambda f: f"{f.family}{f.name}")
def test_each_flag_parses_for_each_verb(flag, commands):
    """Every verb accepts every flag of its family (Darknet's find_arg reads them anywhere); a verb
    that uses it gets the darkpy option the table names, which its command must have."""
    for verb, (path, _) in VERBS[flag.family].items():
        if path is None:
            continue
        target = _command(commands, path)
        arity = option_arity(target)
        args = [flag.name] + ([SAMPLE[flag.takes]] if flag.value else [])
        if flag.name == "-points":
            args = ["-points", "11"]
        notes: list[str] = []
        words = translate_flags(flag.family, verb, args, arity, notes.append)
        option = flag.uses.get(verb)
        if option is None or (option.split()[0] not in arity and flag.fallback):
            assert words == [] and len(notes) == 1, (verb, words, notes)
            continue
        assert words and words[0] == option.split()[0] or flag.convert.get(verb), (verb, words)
        assert words[0] in arity, f"{flag.name} ({verb}) -> {words[0]}: not an option of darkpy {' '.join(path)}"
        if flag.family == "detector":  # the whole Darknet line parses too
            form = DETECTOR[verb]
            positionals = [f"p{i}" for i in range(form.required)]
            argv = translate(form, positionals + args, arity)
            assert argv[: len(form.command)] == list(form.command)


@pytest.mark.parametrize("line", [
    "detector test D C W IMG -dont_show -ext_output",
    "detector map D C W -points 11 -dont_show",
    "detector train D C -dont_show -map --max-batches 1",
    "detector demo D C W -prefix p -avg 3 -json_port 8070 -mjpeg_port 8090 -dont_show",
    "detector test D C W IMG -avg 3 -prefix p -save_labels -letter_box",
])
def test_alexeyab_everyday_lines_translate(line):
    load_commands()
    from darkpy.cli.commands.detector import target_arity

    words = line.split()
    form = DETECTOR[words[1]]
    argv = translate(form, words[2:], target_arity(form.command))
    assert not any(w in ("-d", "ont_show", "-m") for w in argv), argv
    if words[1] == "map":
        assert argv[-2:] == ["--metric", "voc07"]
    if words[1] == "train":
        assert "--map" in argv and "--max-batches" in argv


def test_a_single_dash_word_is_never_split(cli):
    assert is_flag_word("-dont_show") and not is_flag_word("-d") and not is_flag_word("-0.5")
    code, out, err = cli("detect", "data/dog.jpg", "-dont_show")
    assert code == 2 and "No such option: -dont_show" in out + err and "ont_show" not in (out + err).replace(
        "-dont_show", "")
    code, out, err = cli("detector", "test", "a.data", "b.cfg", "c.weights", "x.jpg", "-nonsense")
    assert code == 2 and "-nonsense is neither a Darknet flag" in out + err


def test_classifier_verbs_take_darknet_flags(cli, tmp_path):
    code, out, err = cli("classifier", "train", tmp_path / "none.data", "cfg/darknet19.cfg", "-dont_show", "-clear",
                         "-topk")
    assert code == 2 and "none.data" in out + err  # the flags parsed; the missing .data file is the error


def test_points_takes_what_alexeyab_takes():
    from darkpy.cli.flags import _points

    assert _points("0") == ["--metric", "voc"] and _points("101") == ["--metric", "coco"]
    with pytest.raises(UsageError, match="-points 5"):
        _points("5")


def test_the_chart_note_names_the_file_train_writes():
    """The -chart row said NAME_chart.png; train writes chart_NAME.png (tests/train/test_train_cli.py)."""
    chart = next(f for f in FLAGS if f.name == "-chart" and f.family == "detector")
    assert "chart_NAME.png" in chart.why


def test_dash_d_means_device_everywhere(commands):
    """Issue 20: `-d` was --device for detect and --data for train."""
    def walk(cmd, path):
        for p in getattr(cmd, "params", []):
            if "-d" in getattr(p, "opts", []):
                assert "--device" in p.opts, f"darkpy {' '.join(path)}: -d is {p.opts}"
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, path + [name])

    walk(commands, [])


def test_the_docs_show_the_table_as_it_is():
    from darkpy.assets import ROOT
    from darkpy.cli.flags import verbs_markdown

    page = (ROOT / "docs" / "darknet-to-darkpy.md").read_text(encoding="utf-8")
    assert f"<!-- flags:begin -->\n{table_markdown()}\n<!-- flags:end -->" in page, \
        "regenerate the table in docs/darknet-to-darkpy.md from darkpy.cli.flags.table_markdown()"
    assert f"<!-- verbs:begin -->\n{verbs_markdown()}\n<!-- verbs:end -->" in page
