"""ls, show and stats: reading the catalog back."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from ..output import (
    Format,
    err_console,
    human_bytes,
    iter_json,
    write_mapping,
    write_record_detail,
    write_records,
)
from .common import CategoryOption, FiguresFormatOption, FormatOption, TypeOption, open_library, options

app = typer.Typer()


def _no_larger_than_sql(limit: int | None) -> int | None:
    """A limit beyond any catalog's size (and SQLite's 64-bit LIMIT) is no limit at all."""
    return None if limit is not None and limit >= 2**62 else limit


@app.command("ls")
def list_samples(
    query: Annotated[str | None, typer.Argument(
        help="A query, e.g. 'cat:kick bpm:120..128 key:Am~ -tag:used' (README: Queries).")
    ] = None,
    type_: TypeOption = None,
    category: CategoryOption = None,
    bpm: Annotated[str | None, typer.Option(
        "--bpm", metavar="MIN..MAX", help="Tempo range MIN..MAX (either end may be left open).")] = None,
    key: Annotated[str | None, typer.Option(
        "--key", metavar="KEY", help="Only this key, e.g. Am, 'F# major'.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", metavar="N", min=0, callback=_no_larger_than_sql,
        help="At most N samples.")] = None,
    ask: Annotated[str | None, typer.Option(
        "--ask", metavar="WORDS", help="Plain words, e.g. 'dark punchy kick': a local model "
        "(Ollama) or the built-in translator turns them into a query, shown on stderr.")
    ] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", metavar="MODEL", help="Ollama model for --ask (default: $SAMPLEMIND_AI_MODEL or "
        "llama3.2:3b).")] = None,
    no_model: Annotated[bool, typer.Option(
        "--no-model", help="With --ask: the built-in translator only, never Ollama.")] = False,
    min_confidence: Annotated[float | None, typer.Option(
        "--min-confidence", min=0.0, max=1.0, metavar="X",
        help="Trust only estimates (type, category, bpm, key, chord, note) with confidence >= X: "
        "the others are shown as unknown (null), and --type/--category/--bpm/--key and query "
        "terms on an estimate match only trusted values.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List samples matching a query (every sample without one), streamed."""
    if (model or no_model) and ask is None:
        raise UsageError("--model and --no-model go with --ask WORDS")
    with open_library() as library:
        if ask is not None:  # plain words become a query, ANDed with one given as well
            from .ai import ask_query

            query = " ".join(part for part in (ask_query(library, ask, model, no_model), query)
                             if part)
        # The options' words go to Library.ls as they are: the API and the CLI agree.
        with options(type="--type", category="--category", bpm="--bpm", key="--key",
                     limit="--limit", min_confidence="--min-confidence"):
            samples = library.ls(query, type=type_.value if type_ else None, category=category,
                                 bpm=bpm, key=key, limit=limit, min_confidence=min_confidence)
            shown = write_records(iter_json(samples), fmt)
    if ask is not None and not shown:
        err_console().print("Nothing matched: try fewer or other words, or write the query "
                            "yourself (README: Queries).", highlight=False)


@app.command()
def show(
    sample: Annotated[str, typer.Argument(metavar="FILE|ID", help="A catalog id or a file path.")],
    fmt: FormatOption = Format.table,
) -> None:
    """Show one sample with every field."""
    with open_library() as library:
        write_record_detail(library.get(sample).to_json(), fmt)


@app.command()
def stats(fmt: FiguresFormatOption = Format.table) -> None:
    """Library figures: counts by type, category and format; size; roots."""
    with open_library() as library:
        figures = library.stats()
    if fmt is Format.table:
        figures = {**figures, "size": human_bytes(figures["size"]),
                   "duration": f"{figures['duration']:.1f} s"}
    write_mapping(figures, fmt)
