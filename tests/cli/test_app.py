import subprocess
import sys

from darkpy import __version__


def test_version_prints_package_version(cli):
    code, out, _ = cli("--version")
    assert code == 0
    assert __version__ in out


def test_help_lists_no_unbuilt_commands(cli):
    code, out, _ = cli("--help")
    assert code == 0
    assert "Usage" in out


