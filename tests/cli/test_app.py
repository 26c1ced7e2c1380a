import re
import subprocess
import sys

from darkpy import __version__


def test_version_prints_package_version(cli):
    code, out, _ = cli("--version")
    assert code == 0
    assert __version__ in out


def _leaf_commands():
    """(path of names, click command) for every command and group subcommand darkpy registers."""
    import typer.main

    from darkpy.cli import app, load_commands

    load_commands()
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, path + [name])
        else:
            out.append((path, cmd))

    walk(root, [])
    return root, out


def test_every_registered_command_is_listed_and_has_working_help(cli):
    root, leaves = _leaf_commands()
    assert len(leaves) >= 10
    code, out, _ = cli("--help")
    assert code == 0
    listed = set(re.findall(r"^│ (\S+)", out, re.M))
    assert set(root.commands) <= listed, f"registered but not in --help: {set(root.commands) - listed}"
    for path, cmd in leaves:
        code, text, err = cli(*path, "--help")
        assert code == 0, (path, err)
        assert (cmd.help or "").strip(), f"darkpy {' '.join(path)} has no help text"
        assert not re.search(r"not (yet )?(implemented|built)|coming soon|TODO", text, re.I), path




def test_repeated_cfg_key_is_one_warning_line(tmp_path, repo):
    cfg = tmp_path / "dup.cfg"
    cfg.write_text("[net]\nwidth=32\nheight=32\nchannels=3\nwidth=64\n[convolutional]\nfilters=4\nsize=1\n"
                   "activation=linear\n")
    proc = subprocess.run([sys.executable, "-m", "darkpy", "summary", str(cfg)], cwd=repo, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"darkpy: warning: {cfg}:5: 'width' repeated in [net]; Darknet keeps the first value (32, line 2)"]
