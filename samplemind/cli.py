"""The command line: the root Typer app, its global options, and main(), which maps errors to
exit codes. Each command group lives in samplemind/commands/ with its own Typer app and is
added here; a command parses, calls one Library method and renders (ARCHITECTURE.md)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperArgument, TyperGroup

from . import __version__
from .commands import (
    accounts,
    ai,
    cache,
    docs,
    export,
    listing,
    organise,
    review,
    scan,
    serve,
    similarity,
    watch,
)
from .commands.common import state
from .errors import ExitCode, SampleMindError
from .output import PipeClosed, err_console


class CommandGroup(TyperGroup):
    """Lists each command with its whole summary, wrapped, where click would cut it to the
    terminal's width with "..."; and plain click help (like sqlite-utils'), not Rich panels."""

    def get_command(self, ctx: typer.Context, name: str) -> typer._click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            for param in command.params:
                if isinstance(param, TyperArgument):
                    _plain_argument(param)
        return command

    def format_commands(self, ctx: typer.Context, formatter: typer._click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _plain_argument(argument: TyperArgument) -> None:
    """Show an argument as sqlite-utils and ripgrep do: PATH..., [QUERY] (typer writes
    {PATH}... in the usage and adds its Python type, PATH <list[str]>, in the list)."""
    shown = argument.metavar or argument.name.upper()
    if argument.nargs != 1 and not shown.endswith("..."):
        shown += "..."
    usage = shown if argument.required or shown.startswith("[") else f"[{shown}]"
    argument._rich_display_name = lambda: shown  # type: ignore[method-assign]
    argument._usage_display_name = lambda: usage  # type: ignore[method-assign]
    argument.display_type_rich = lambda ctx: None  # type: ignore[method-assign]


app = typer.Typer(
    name="samplemind",
    cls=CommandGroup,
    help="Analyse a sample library and find sounds by BPM, key, pitch, category and tags.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samplemind {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    home: Annotated[str | None, typer.Option(
        "--home", envvar="SAMPLEMIND_HOME", metavar="DIR",
        help="Folder holding the catalog, cache and index (default: platform folders).")] = None,
    traceback: Annotated[bool, typer.Option(
        "--traceback", help="Show the full Python traceback on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Analyse a sample library and find sounds by BPM, key, pitch, category and tags."""
    state.home = home
    state.traceback = traceback


# The order here is the order of `samplemind --help` (and of the man page): commands first,
# then the groups with sub-commands.
for commands in (scan.app, listing.app, ai.app, export.app, organise.app, review.app,
                 serve.app, similarity.app, watch.app, docs.app):
    app.add_typer(commands)  # no name: its commands join the top level
app.add_typer(cache.app, name="cache", cls=CommandGroup)
app.add_typer(accounts.user_app, name="user", cls=CommandGroup)
app.add_typer(accounts.token_app, name="token", cls=CommandGroup)
app.add_typer(organise.tag_app, name="tag", cls=CommandGroup)
app.add_typer(organise.collection_app, name="collection", cls=CommandGroup)
app.add_typer(organise.fav_app, name="fav", cls=CommandGroup)
app.add_typer(similarity.index_app, name="index", cls=CommandGroup)


def _quiet_broken_pipe() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) an ExitCode (ARCHITECTURE.md: Contracts)."""
    command = typer.main.get_command(app)
    code: int = ExitCode.OK
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of raising.
        returned = command.main(args=argv, prog_name="samplemind", standalone_mode=False)
        if isinstance(returned, int):
            code = returned
        # typer turns Ctrl-C into Exit(130)
        if code == ExitCode.INTERRUPTED and not state.interrupt_explained:
            err_console().print("interrupted")
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        err_console().print("interrupted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # click's errors: usage errors exit 2
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            err_console().print(f"error: {exc.format_message()}", markup=False)
        code = exc.exit_code
    except KeyboardInterrupt:
        err_console().print("interrupted; what was analysed is kept, scan again to resume")
        code = ExitCode.INTERRUPTED
    except (BrokenPipeError, PipeClosed):
        _quiet_broken_pipe()
        code = ExitCode.OK
    except SampleMindError as exc:
        if state.traceback:
            raise
        err_console().print(f"error: {exc}", markup=False, highlight=False)
        code = exc.exit_code
    except Exception as exc:
        if state.traceback:
            raise
        err_console().print(f"error: {type(exc).__name__}: {exc} (run with --traceback for "
                            "details)", markup=False, highlight=False)
        code = ExitCode.ERROR
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    if argv is None:
        sys.exit(int(code))
    return int(code)
