"""cache stats and cache clear: the feature cache and the cache of AI answers."""

from __future__ import annotations

import typer

from ..output import Format, err_console, human_bytes, write_mapping
from .common import FiguresFormatOption, open_library

app = typer.Typer(help="Inspect or clear the feature and AI answer caches.", no_args_is_help=True)


@app.command("stats")
def cache_stats(fmt: FiguresFormatOption = Format.table) -> None:
    """Entries, size, hits and misses of the feature cache and of cached AI answers."""
    with open_library() as library:
        figures = library.cache_stats()
        # Model answers (describe, ls --ask) live in a cache of their own: README: Local AI.
        answers = library.ai_cache_stats()
    figures.update({f"ai_{name}": value for name, value in answers.items()})
    if fmt is Format.table:
        figures = {**figures, "size": human_bytes(figures["size"]),
                   "size_limit": human_bytes(figures["size_limit"]),
                   "ai_size": human_bytes(figures["ai_size"]),
                   "ai_size_limit": human_bytes(figures["ai_size_limit"])}
    write_mapping(figures, fmt)


@app.command("clear")
def cache_clear() -> None:
    """Remove every cached analysis and AI answer (the catalog is kept)."""
    with open_library() as library:
        removed = library.cache_clear()
        answers = library.ai_cache_clear()
    err_console().print(f"Removed {removed} cache entries and {answers} AI answers.")
