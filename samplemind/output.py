"""Rendering shared by commands: Rich tables, JSON, JSON lines, CSV and bare paths.

Results go to stdout; everything for people (progress, summaries, warnings) goes
to stderr through ``err_console``. What reaches a terminal has its control characters escaped,
and JSON and CSV are always valid UTF-8 (textsafe.py says how).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .models import RECORD_FIELDS
from .textsafe import escape_undecodable, has_undecodable, json_safe, printable

T = TypeVar("T")


class PipeClosed(Exception):
    """The reader of stdout went away (``| head``): stop quietly.

    Not an OSError on purpose: click turns EPIPE into exit code 1, we want a quiet 0.
    """


def pipe_safe(function: Callable[..., T]) -> Callable[..., T]:
    """Turn a broken pipe while writing results into PipeClosed."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except BrokenPipeError:
            raise PipeClosed() from None

    return wrapper


class Format(str, Enum):
    """Output formats of listing commands."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    paths = "paths"


class SafeConsole(Console):
    """A Rich console whose printed strings cannot hold control characters: a file name in a
    message must not be able to drive the terminal (escapes as in textsafe.printable; the
    console's own colours are added after this, so they still work)."""

    def __init__(self, *args: Any, plain: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plain = plain

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: A003 - Rich's name
        objects = tuple(printable(item, keep_newlines=True) if isinstance(item, str) else item
                        for item in objects)
        if not self.plain:
            super().print(*objects, **kwargs)
            return
        # For a pipe or a file: Rich pads every table cell to its column's width, and the
        # spaces at the ends of lines only get in the way of diff, grep and cut.
        with self.capture() as captured:
            super().print(*objects, **kwargs)
        self.file.write("\n".join(line.rstrip(" ") for line in captured.get().split("\n")))
        self.file.flush()


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # A pipe gets no colour, no wrapping at 80 columns and no trailing spaces.
    terminal = stream.isatty()
    return SafeConsole(file=stream, width=None if terminal else 10_000,
                       no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                       soft_wrap=not terminal, plain=not terminal)


def err_console() -> Console:
    """The console for people: stderr."""
    return _console(stderr=True)


def out_console() -> Console:
    """The console for results: stdout."""
    return _console(stderr=False)


def json_default(value: Any) -> Any:
    """What JSON encoders call for objects they do not know."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, bytes):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """JSON text: real numbers, null for missing values, UTF-8 kept readable; undecodable
    bytes of file names escaped (textsafe.json_safe), so the text always encodes."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=json_default,
                      allow_nan=False)
    if has_undecodable(text):  # rare: only then is the data walked and copied
        text = json.dumps(json_safe(data), indent=indent, ensure_ascii=False,
                          default=json_default, allow_nan=False)
    return text


def csv_cell(value: Any) -> Any:
    """A CSV field: lists joined with ';', missing values empty, text valid UTF-8."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(map(str, value))
    return escape_undecodable(value) if isinstance(value, str) else value


def _fmt(value: Any, digits: int = 1) -> str:
    """A table cell; file names like "[red]hit.wav" are shown as written, not as markup, and
    control characters in them as escapes (\x1b), not sent to the terminal."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list):
        return escape(printable(", ".join(str(item) for item in value)))
    return escape(printable(str(value)))


RIGHT = {"id", "bpm", "duration", "loudness_lufs", "score", "distance", "x", "y"}
LIST_COLUMNS = (
    ("id", "id", 0), ("name", "name", 0), ("type", "type", 0), ("category", "category", 0),
    ("bpm", "bpm", 1), ("key", "key", 0), ("note", "note", 0), ("duration", "dur s", 2),
    ("loudness_lufs", "LUFS", 1), ("format", "fmt", 0),
)


def _write_json_stream(items: Iterable[dict[str, Any]], fmt: Format) -> int:
    """One JSON array (json) or one object a line (jsonl), an item at a time, so memory
    stays flat however many there are."""
    out = sys.stdout
    count = 0
    if fmt is Format.jsonl:
        for item in items:
            out.write(dumps(item, indent=None) + "\n")
            count += 1
        return count
    out.write("[")
    for item in items:
        out.write(("\n" if count == 0 else ",\n") + dumps(item, indent=None))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


@pipe_safe
def write_records(records: Iterable[dict[str, Any]], fmt: Format,
                  extra: Sequence[tuple[str, str, int]] = ()) -> int:
    """Write sample records to stdout in a format; returns how many were written.

    extra: (field, header, digits) columns shown first in tables and appended in CSV
    (a similarity score, map coordinates).
    """
    out = sys.stdout
    count = 0
    if fmt is Format.table:
        table = Table(box=None, header_style="bold", pad_edge=False)
        columns = (*extra, *LIST_COLUMNS)
        for name, header, _ in columns:
            table.add_column(header, overflow="fold", justify="right" if name in RIGHT else "left")
        for record in records:
            table.add_row(*(_fmt(record.get(name), digits) for name, _, digits in columns))
            count += 1
        out_console().print(table)
        return count
    if fmt in (Format.json, Format.jsonl):
        return _write_json_stream(records, fmt)
    if fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        fields = (*RECORD_FIELDS, *(name for name, _, _ in extra if name not in RECORD_FIELDS))
        writer.writerow(fields)
        for record in records:
            writer.writerow([csv_cell(record.get(name)) for name in fields])
            count += 1
        return count
    for record in records:  # paths
        out.write(f"{record['path']}\n")
        count += 1
    return count


@pipe_safe
def write_record_detail(record: dict[str, Any], fmt: Format) -> None:
    """One record, every field: a two-column table, or JSON."""
    if fmt is Format.table:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name in RECORD_FIELDS:
            table.add_row(name, _fmt(record.get(name), 3))
        out_console().print(table)
    elif fmt is Format.json:
        sys.stdout.write(dumps(record) + "\n")
    else:
        write_records([record], fmt)


@pipe_safe
def write_mapping(data: dict[str, Any], fmt: Format, title: str | None = None) -> None:
    """A dict of figures (stats, cache): JSON, or a readable nested table."""
    if fmt in (Format.json, Format.jsonl):
        sys.stdout.write(dumps(data, indent=2 if fmt is Format.json else None) + "\n")
        return
    table = Table(box=None, show_header=False, pad_edge=False, title=title)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = "\n".join(map(str, value)) or "-"
        table.add_row(escape(printable(str(name))), escape(printable(str(value), keep_newlines=True)))
    out_console().print(table)


@pipe_safe
def write_rows(rows: Iterable[dict[str, Any]], fmt: Format, columns: Sequence[str]) -> int:
    """Rows that are not sample records (tags, collections, suggestions) in any format;
    paths prints each row's path (or its first column)."""
    out = sys.stdout
    count = 0
    if fmt is Format.table:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in columns:
            table.add_column(name, overflow="fold", justify="right" if name in RIGHT_ROWS
                             else "left")
        for row in rows:
            table.add_row(*(_fmt(row.get(name), 3) for name in columns))
            count += 1
        out_console().print(table)
    elif fmt in (Format.json, Format.jsonl):
        count = _write_json_stream(rows, fmt)
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(name)) for name in columns])
            count += 1
    else:
        for row in rows:
            out.write(f"{row.get('path', row.get(columns[0]))}\n")
            count += 1
    return count


RIGHT_ROWS = {"count", "confidence", "neighbours", "id"}


def iter_json(records: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Records (objects with to_json) as dicts."""
    for record in records:
        yield record.to_json()


def human_bytes(size: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
