"""tag, tags, set, collection and suggest: marking and correcting samples."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import UsageError
from ..output import Format, err_console, write_record_detail, write_rows
from .common import FormatOption, RowsFormatOption, open_library, options, state

app = typer.Typer()
tag_app = typer.Typer(help="Add or remove tags.", no_args_is_help=True)
collection_app = typer.Typer(help="Saved queries, used as @NAME.", no_args_is_help=True)
fav_app = typer.Typer(help="Star samples: favourites, kept per account (query: fav:NAME).",
                      no_args_is_help=True)

TargetArgument = Annotated[str, typer.Argument(
    metavar="QUERY|FILE", help="A query, or a file, folder or id (more with --also); '-' "
    "reads paths or ids from stdin, one per line (e.g. from ls -f paths).")]
TagsArgument = Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags.")]
AlsoOption = Annotated[list[str] | None, typer.Option(
    "--also", metavar="FILE|ID", help="More files or ids to include (repeatable).")]


def _targets(target: str, also: list[str] | None, doing: str) -> list[str]:
    if target == "-":
        refs = [line.strip() for line in sys.stdin if line.strip()]
        if not refs:
            raise UsageError(f"nothing on stdin to {doing} (pipe in paths or ids)")
        return refs + list(also or [])
    return [target, *(also or [])]


@tag_app.command("add")
def tag_add(target: TargetArgument, tags: TagsArgument, also: AlsoOption = None) -> None:
    """Add tags to the samples a query (or the files) select."""
    with open_library() as library:
        result = library.tag(_targets(target, also, "tag"), tags)
    err_console().print(f"Tagged {result['samples']} sample(s): {result['changed']} new tag(s).",
                        highlight=False)


@tag_app.command("rm")
def tag_rm(target: TargetArgument, tags: TagsArgument, also: AlsoOption = None) -> None:
    """Remove tags from the samples a query (or the files) select."""
    with open_library() as library:
        result = library.tag(_targets(target, also, "untag"), tags, remove=True)
    err_console().print(f"Removed {result['changed']} tag(s) from {result['samples']} "
                        "sample(s).", highlight=False)


AccountOption = Annotated[str, typer.Option(
    "--account", metavar="NAME", help="Whose favourites: an account of `samplemind serve` "
    "(the web UI's stars), or 'local' where the server has no accounts.")]


def _account(account: str, *, warn: bool = False) -> str:
    """The account as the server spells it: names are case-blind there (login, `user add`,
    fav:NAME), but the web UI lists the stars kept under its own spelling. With warn, says
    when the server has accounts and none of them is this one (a typo stars for no one)."""
    from ..accounts import served_spelling
    from ..config import resolve_paths

    known, unknown = served_spelling(resolve_paths(state.home).data_dir, account.strip(),
                                     check_configured=warn)
    if unknown:
        err_console().print(f"warning: no account {account.strip()!r}: the server has no user "
                            "or token of that name (samplemind user ls, token ls)", markup=False,
                            highlight=False)
    return known or account


@fav_app.command("add")
def fav_add(target: TargetArgument, also: AlsoOption = None, account: AccountOption = "local") -> None:
    """Star the samples a query (or the files) select."""
    with open_library() as library, options(account="--account"):
        account = _account(account, warn=True)
        result = library.favourite(account, _targets(target, also, "star"))
    err_console().print(f"Starred {result['samples']} sample(s) for {account}: "
                        f"{result['changed']} new.", markup=False, highlight=False)


@fav_app.command("rm")
def fav_rm(target: TargetArgument, also: AlsoOption = None, account: AccountOption = "local") -> None:
    """Unstar the samples a query (or the files) select."""
    with open_library() as library, options(account="--account"):
        account = _account(account)
        result = library.favourite(account, _targets(target, also, "unstar"), remove=True)
    err_console().print(f"Unstarred {result['changed']} of {result['samples']} sample(s) for "
                        f"{account}.", markup=False, highlight=False)


@fav_app.command("ls")
def fav_ls(account: AccountOption = "local", fmt: FormatOption = Format.table) -> None:
    """One account's favourites, the first starred first (like ls fav:NAME)."""
    from ..output import iter_json, write_records

    with open_library() as library:
        with options(account="--account"):
            ids = library.favourites(_account(account))
        write_records(iter_json(library.get(sample_id) for sample_id in ids), fmt)


@app.command()
def tags(fmt: RowsFormatOption = Format.table) -> None:
    """Every tag with how many samples carry it."""
    with open_library() as library:
        rows = library.tags()
    write_rows(rows, fmt, ("tag", "count", "sources"))


@app.command("set")
def set_fields(
    sample: Annotated[str, typer.Argument(metavar="FILE|ID", help="The sample to correct.")],
    assignments: Annotated[list[str], typer.Argument(
        metavar="FIELD=VALUE...", help="bpm=120, key=Am, chord=Am7, note=C2, type=loop, "
        "category=kick; "
        "FIELD=auto removes a correction.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Correct bpm, key, chord, note, type or category; kept through rescans (source "user")."""
    from ..organise import parse_assignments

    with open_library() as library:
        record = library.set(sample, parse_assignments(assignments)).to_json()
    write_record_detail(record, fmt)


@collection_app.command("save")
def collection_save(
    name: Annotated[str, typer.Argument(help="The collection's name (used as @NAME).")],
    query: Annotated[str, typer.Argument(help="The query to save.")],
) -> None:
    """Save a query under a name (replaces one of the same name)."""
    with open_library() as library:
        saved = library.save_collection(name, query)
    err_console().print(f"Saved @{saved['name']} ({saved['count']} samples now).",
                        markup=False, highlight=False)


@collection_app.command("ls")
def collection_ls(fmt: RowsFormatOption = Format.table) -> None:
    """List saved collections."""
    with open_library() as library:
        rows = library.collections()
    write_rows(rows, fmt, ("name", "query", "saved_at"))


@collection_app.command("rm")
def collection_rm(name: Annotated[str, typer.Argument(help="The collection to forget.")]) -> None:
    """Forget a saved collection (its samples are untouched)."""
    with open_library() as library:
        library.delete_collection(name)
    err_console().print(f"Removed @{name}.", markup=False, highlight=False)


@app.command()
def suggest(
    query: Annotated[str | None, typer.Argument(
        help="Only suggest for samples matching this query.")] = None,
    k: Annotated[int, typer.Option("-k", metavar="N", help="Tagged neighbours that vote (1 to 100).")] = 10,
    threshold: Annotated[float, typer.Option(
        "--threshold", "-t", metavar="X",
        help="Smallest confidence (weighted share of neighbour votes) to suggest: above 0, "
             "at most 1.")] = 0.5,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Write the suggestions as tags (source 'suggested').")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Tags for untagged samples, learned from the tags you gave their nearest neighbours.
    Shows them; writes only with --apply."""
    with open_library() as library, options(k="-k", threshold="--threshold"):
        suggestions = library.suggest(query, k=k, threshold=threshold, apply=apply)
    write_rows(suggestions, fmt, ("confidence", "tag", "neighbours", "id", "path"))
    console = err_console()
    if apply:
        console.print(f"Applied {len(suggestions)} tag(s).", highlight=False)
    else:
        console.print(f"{len(suggestions)} suggestion(s); nothing written (use --apply).",
                      highlight=False)
