import subprocess
import sys


def test_summary_prints_darknets_bflops_and_total(cli, repo):
    code, out, _ = cli("summary", repo / "cfg" / "yolov2-voc.cfg")
    assert code == 0
    assert "3.987" in out and "29.360" in out and "reorg" in out


def test_summary_at_another_size(cli, repo):
    code, out, _ = cli("summary", repo / "cfg" / "yolov2-voc.cfg", "--size", "608")
    assert code == 0 and "19 x   19 x  125" in out


def test_summary_reports_loaded_weights(cli, repo):
    g = repo / "tests" / "golden" / "real_prefix"
    code, out, err = cli("summary", repo / "cfg" / "yolov2.cfg", "--weights", g / "weights")
    # a file covering the first layers only is not the network's weights (issue 14): one line
    assert code == 2 and "holds 7 of 23 layers" in err
    code, out, _ = cli("summary", g / "yolov2-first10.cfg", "--weights", g / "weights")
    assert code == 0 and "loaded 7 of 7" in out


def test_user_error_is_one_line_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n[convolutional]\nfilters=oops\n")
    proc = subprocess.run([sys.executable, "-m", "darkpy", "summary", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.cfg:6" in lines[0] and "filters" in lines[0]
    assert "Traceback" not in proc.stderr
