"""completion and man: print the shell completions and the man page, generated from this very
command line (samplemind/clidocs.py), so a pip or pipx install has them for its own version."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from ..output import pipe_safe

app = typer.Typer()


class Shell(str, Enum):
    """The shells completion scripts are written for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@pipe_safe
def _print_generated(ctx: typer.Context, what: str) -> None:
    from ..clidocs import read_command, render

    sys.stdout.write(render(read_command(ctx.find_root().command), what))


@app.command()
def completion(
    ctx: typer.Context,
    shell: Annotated[Shell, typer.Argument(
        metavar="SHELL", case_sensitive=False, help="bash, zsh or fish.")],
) -> None:
    """Print the completion script for a shell.

    Install it where the shell looks, e.g. samplemind completion fish >
    ~/.config/fish/completions/samplemind.fish (bash and zsh: README, Shell completions and
    man page).
    """
    _print_generated(ctx, shell.value)


@app.command("man")
def man_page(ctx: typer.Context) -> None:
    """Print the man page (roff).

    Read it with: samplemind man | man -l -
    """
    _print_generated(ctx, "man")
