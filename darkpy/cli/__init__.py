"""The `darkpy` command line.

Thin by design: each module in `darkpy.cli.commands` parses arguments for one command (or one
command group) and calls library functions. A module joins the CLI by defining
`register(app: typer.Typer) -> None`; adding a command touches only its own file.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import warnings

from darkpy.net.blas import start_single_threaded

start_single_threaded()  # before numpy loads: no idle OpenBLAS thread for small jobs (see darkpy.net.blas)

import typer  # noqa: E402

from darkpy import __version__  # noqa: E402
from darkpy.errors import DarkpyError, report_error, show_warning  # noqa: E402

app = typer.Typer(
    name="darkpy",
    help="Darknet's YOLOv2 / YOLO9000 toolkit on PyTorch. Reads .cfg, .weights and .data files as they are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _quiet_flag_types() -> None:
    """`--help` lists on/off flags without a `<bool>` type column (they take no value)."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - another typer layout: keep its help as it is
        return
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_darkpy", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        return shown(self, ctx)

    display_type_rich._darkpy = True
    TyperOption.display_type_rich = display_type_rich


_quiet_flag_types()


def _whole_flag_words() -> None:
    """A single-dash word (`-dont_show`) that no option of the command declares is an unknown
    option, never a bundle of short options (`-d ont_show`); where it is a Darknet flag the error
    says where it works."""
    try:
        from typer._click import parser
        from typer._click.exceptions import NoSuchOption
    except ImportError:  # pragma: no cover - another typer layout: keep its parser as it is
        return
    cls = getattr(parser, "_OptionParser", None)
    shorts = getattr(cls, "_match_short_opt", None)
    if shorts is None or getattr(shorts, "_darkpy", False):
        return

    def _match_short_opt(self, arg, state):
        from darkpy.cli.darknet import is_flag_word

        if is_flag_word(arg):
            if self.ignore_unknown_options:
                state.largs.append(arg)
                return
            from darkpy.cli.flags import FLAGS

            families = sorted({f.family for f in FLAGS if f.name == arg}, key=lambda f: f != "detector")
            hint = (f" (Darknet's {arg}: use it with `darkpy {families[0]} VERB ...`, see "
                    "docs/darknet-to-darkpy.md)") if families else ""
            raise NoSuchOption(arg, message=f"No such option: {arg}{hint}", ctx=self.ctx)
        return shorts(self, arg, state)

    _match_short_opt._darkpy = True
    cls._match_short_opt = _match_short_opt


_whole_flag_words()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"darkpy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse questionable inputs that are otherwise a warning (NaN or infinite "
                                "weights). Also DARKPY_STRICT=1."),
) -> None:
    """Darknet's YOLOv2 / YOLO9000 toolkit on PyTorch."""
    if strict:  # an environment variable, so data-loading workers and subprocesses see it too
        os.environ["DARKPY_STRICT"] = "1"


_loaded = False


def load_commands() -> typer.Typer:
    """Import every command module once and let it register itself."""
    global _loaded
    if not _loaded:
        from darkpy.cli import commands

        for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{commands.__name__}.{info.name}")
            module.register(app)
        _loaded = True
    return app


def main(argv: list[str] | None = None) -> None:
    warnings.showwarning = show_warning
    load_commands()
    try:
        app(args=argv, prog_name="darkpy", standalone_mode=True)
    except DarkpyError as exc:
        report_error(exc)
        sys.exit(2)
    except KeyboardInterrupt:
        report_error(KeyboardInterrupt("interrupted"))
        sys.exit(130)
