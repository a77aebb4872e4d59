"""user and token: the accounts and API tokens that `samplemind serve` asks for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

import typer

from ..config import resolve_paths
from ..errors import UsageError
from ..output import Format, err_console, write_rows
from .common import RowsFormatOption, state

user_app = typer.Typer(help="Server accounts: add, remove, list, change password or role.",
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens for scripts (sent as Authorization: Bearer TOKEN).",
                        no_args_is_help=True)


class Role(str, Enum):
    """What an account or token may do: viewer reads, editor also changes, admin everything."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"


UserArgument = Annotated[str, typer.Argument(metavar="NAME", help="The account name.")]
TokenArgument = Annotated[str, typer.Argument(metavar="NAME", help="The token's name.")]
RoleOption = Annotated[Role, typer.Option(
    "--role", "-r", case_sensitive=False,
    help="viewer (read and listen), editor (also scan, tag, upload) or admin (everything).")]
PasswordStdinOption = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin (for scripts).")]


def _store():
    from ..accounts import AccountStore

    return AccountStore(resolve_paths(state.home).data_dir)


def _read_password(from_stdin: bool, name: str) -> str:
    from ..accounts import check_password

    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise UsageError("no password on stdin")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask for a password on: pipe it in with "
                             "--password-stdin")
        password = typer.prompt(f"Password for {name}", hide_input=True, err=True)
        check_password(password, name)  # say so before asking again
        again = typer.prompt("Repeat the password", hide_input=True, err=True)
        if again != password:
            raise UsageError("the two passwords differ; nothing was changed")
    check_password(password, name)
    return password


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@contextmanager
def _changing_access() -> Iterator:
    """The account store for a change that may open or close a running server; says which
    once the change is made (it takes effect at once)."""
    with _store() as store:
        was_configured = store.configured()
        yield store
        now_configured = store.configured()
        if now_configured and not was_configured:
            err_console().print("A running server now asks every request to log in.",
                                markup=False, highlight=False)
        elif was_configured and not now_configured:
            err_console().print("warning: no account or token is left: a server on loopback is "
                                "open to everyone on this machine again (one on another --host "
                                "refuses every request)", markup=False, highlight=False)


def _rows(rows: list[dict], fmt: Format) -> list[dict]:
    keys = ("created_at", "last_used_at")
    return [{**row, **{key: _when(row[key]) for key in keys if key in row}}
            if fmt in (Format.table, Format.csv) else row for row in rows]


@user_app.command("add")
def user_add(name: UserArgument, role: RoleOption = Role.viewer,
             password_stdin: PasswordStdinOption = False) -> None:
    """Add an account (the password is asked twice, hidden, unless --password-stdin)."""
    from ..accounts import Conflict, check_name

    check_name(name)
    with _changing_access() as store:
        if any(user["name"].lower() == name.lower() for user in store.users()):
            raise Conflict(f"user {name!r} already exists")
        store.add_user(name, _read_password(password_stdin, name), role.value)
        err_console().print(f"Added {role.value} {name}.", markup=False, highlight=False)


@user_app.command("rm")
def user_rm(name: UserArgument) -> None:
    """Remove an account; its sessions end at once."""
    with _changing_access() as store:
        store.remove_user(name)
        left = store.users()
        err_console().print(f"Removed {name}.", markup=False, highlight=False)
        if left and not any(user["role"] == "admin" for user in left):
            err_console().print("warning: no admin account is left", markup=False)


@user_app.command("ls")
def user_ls(fmt: RowsFormatOption = Format.table) -> None:
    """List accounts with their roles (never passwords)."""
    with _store() as store:
        rows = store.users()
    write_rows(_rows(rows, fmt), fmt, ("name", "role", "created_at"))


@user_app.command("passwd")
def user_passwd(name: UserArgument, password_stdin: PasswordStdinOption = False) -> None:
    """Set a new password for an account; its sessions end (everyone logs in again)."""
    from ..errors import NotFound

    with _store() as store:
        if not any(user["name"].lower() == name.lower() for user in store.users()):
            raise NotFound(f"no user {name!r}")
        store.set_password(name, _read_password(password_stdin, name))
    err_console().print(f"Changed the password of {name}.", markup=False, highlight=False)


@user_app.command("role")
def user_role(
    name: UserArgument,
    role: Annotated[Role, typer.Argument(
        metavar="ROLE", case_sensitive=False, help="The new role: viewer, editor or admin.")],
) -> None:
    """Change an account's role (takes effect on its next request)."""
    with _store() as store:
        store.set_role(name, role.value)
        admins = [user for user in store.users() if user["role"] == "admin"]
    err_console().print(f"{name} is now {role.value}.", markup=False, highlight=False)
    if not admins:
        err_console().print("warning: no admin account is left", markup=False)


@token_app.command("add")
def token_add(name: TokenArgument, role: RoleOption = Role.viewer) -> None:
    """Create an API token and print its secret to stdout, once: it cannot be shown again."""
    with _changing_access() as store:
        secret = store.add_token(name, role.value)
        sys.stdout.write(secret + "\n")
        sys.stdout.flush()
        err_console().print(f"Created {role.value} token {name}. Keep the secret now: only its "
                            "hash is stored. Send it as 'Authorization: Bearer SECRET'.",
                            markup=False, highlight=False)


@token_app.command("rm")
def token_rm(name: TokenArgument) -> None:
    """Revoke an API token."""
    with _changing_access() as store:
        store.remove_token(name)
        err_console().print(f"Revoked token {name}.", markup=False, highlight=False)


@token_app.command("ls")
def token_ls(fmt: RowsFormatOption = Format.table) -> None:
    """List API tokens: name, role, created and last used (never the secret)."""
    with _store() as store:
        rows = store.tokens()
    write_rows(_rows(rows, fmt), fmt, ("name", "role", "created_at", "last_used_at"))
