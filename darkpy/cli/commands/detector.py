"""`darkpy detector SUBCOMMAND ...`: Darknet's `detector` family in Darknet's argument order.

Each subcommand rewrites its arguments (`darkpy.cli.darknet`) and runs the darkpy command that
does the work, so `detector test` and `detect` cannot drift apart.
"""
from __future__ import annotations

from typing import List, Optional

import typer

from darkpy.cli.darknet import DETECTOR, Form

group = typer.Typer(
    help="Darknet's `detector` commands in Darknet's order: train, test, valid, recall, map, demo, "
         "calc_anchors (each runs the darkpy command it names).",
    no_args_is_help=True)

_PASS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}


def run_darkpy(argv: list[str]) -> None:
    """Run `darkpy ARGV...` inside this process (the alias's darkpy form)."""
    import typer.main

    from darkpy.cli import app

    code = typer.main.get_command(app).main(args=argv, prog_name="darkpy", standalone_mode=False)
    if isinstance(code, int) and code:
        raise typer.Exit(code)


def target_arity(command: tuple[str, ...]) -> dict[str, int]:
    import typer.main

    from darkpy.cli import app
    from darkpy.cli.darknet import option_arity

    cmd = typer.main.get_command(app)
    for name in command:
        cmd = cmd.commands[name]
    return option_arity(cmd)


def _alias(name: str, form: Form) -> None:
    target = " ".join(form.command)

    def alias(args: Optional[List[str]] = typer.Argument(None, metavar=form.darknet.split(" ", 2)[2],
                                                         show_default=False)) -> None:
        from darkpy.cli.darknet import translate

        argv = translate(form, args or [], target_arity(form.command),
                         note=lambda s: typer.echo(f"darkpy: {s}", err=True))
        run_darkpy(argv)

    from darkpy.cli.flags import FLAGS

    flags = ", ".join(sorted(f.name for f in FLAGS if f.family == "detector" and f.uses.get(name))) or "none"
    alias.__doc__ = (f"Darknet's `{form.darknet}`: runs `darkpy {target}` (see `darkpy {target} --help`; "
                     f"its options work here too). Darknet flags used: {flags}; every other flag of "
                     f"either Darknet is accepted and ignored with a note (docs/darknet-to-darkpy.md).")
    group.command(name, context_settings=_PASS)(alias)


for _name, _form in DETECTOR.items():
    _alias(_name, _form)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="detector")
