"""similar, dupes, map and index: finding sounds by sound."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from ..errors import ExitCode, UsageError
from ..models import DupeGroup, Hit, LayerSet, Sample
from ..output import Format, dumps, err_console, pipe_safe, write_mapping, write_records
from ..similarity.dupes import MAX_THRESHOLD
from ..similarity.vectors import ASPECTS
from ..textsafe import printable
from .common import (
    CategoryOption,
    FiguresFormatOption,
    FormatOption,
    TypeOption,
    open_library,
    options,
)

app = typer.Typer()
index_app = typer.Typer(help="Inspect or rebuild the similarity index.", no_args_is_help=True)


def _flat_hit(hit: Hit) -> dict[str, Any]:
    """A hit as one flat row (CSV and table): the record, score, and dist_<aspect> columns."""
    row = hit.to_json()
    for aspect, value in row.pop("aspect_distances").items():
        row[f"dist_{aspect}"] = value
    return row


HIT_COLUMNS = (("score", "score", 3), ("distance", "distance", 3),
               *((f"dist_{aspect}", aspect, 2) for aspect in ASPECTS))


@app.command()
def similar(
    samples: Annotated[list[str], typer.Argument(
        metavar="FILE|ID...", help="Catalog ids, catalogued files, or audio files outside the "
        "catalog (analysed, not added). Several: their combined sound.")],
    k: Annotated[int, typer.Option("-k", "--count", metavar="N", min=1, max=10_000,
                                   help="How many similar samples to show.")] = 10,
    aspect: Annotated[str | None, typer.Option(
        "--aspect", "-a", metavar="WEIGHTS", help="Aspect weights, e.g. timbre=2,pitch=0 (aspects: timbre, "
        "spectral, envelope, tonal (or pitch), rhythm; default 1 each).")] = None,
    type_: TypeOption = None,
    category: CategoryOption = None,
    query: Annotated[str | None, typer.Option(
        "--query", "-q", metavar="QUERY",
        help="Only samples matching this query (see README: Queries).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Samples that sound like the given ones, nearest first, with per-aspect distances."""
    with open_library() as library:
        hits = library.similar(samples, k=k, aspects=aspect,
                               type=type_.value if type_ else None, category=category,
                               query=query)
    if fmt in (Format.json, Format.jsonl):
        write_records((hit.to_json() for hit in hits), fmt)
    else:
        write_records((_flat_hit(hit) for hit in hits), fmt, extra=HIT_COLUMNS)


DUPE_CSV_FIELDS = ("group", "kind", "role", "id", "path", "format", "sample_rate", "bit_depth",
                   "duration", "distance", "reason", "loudness_lufs")


def _lufs(record: dict[str, Any]) -> str:
    value = record.get("loudness_lufs")
    return f"{value:.1f}" if isinstance(value, (int, float)) else ""


def _members(groups: list[DupeGroup], layers: list[LayerSet]) -> Iterator[tuple[int, Any, str, Sample]]:
    """(number, group or layer set, role, sample): duplicate groups, then layer sets."""
    number = 0
    for group in groups:
        number += 1
        for role, sample in [("keep", group.keeper), *(("dupe", s) for s in group.others)]:
            yield number, group, role, sample
    for found in layers:
        number += 1
        for sample in found.layers:
            yield number, found, "layer", sample


@pipe_safe
def _write_groups(groups: list[DupeGroup], fmt: Format, layers: list[LayerSet] | None = None) -> None:
    out = sys.stdout
    layers = layers or []
    if fmt is Format.json:
        out.write(dumps([group.to_json() for group in [*groups, *layers]]) + "\n")
    elif fmt is Format.jsonl:
        for group in [*groups, *layers]:
            out.write(dumps(group.to_json(), indent=None) + "\n")
    elif fmt is Format.paths:  # the redundant copies, for scripts that act on them
        for group in groups:
            for sample in group.others:
                out.write(sample.path + "\n")
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(DUPE_CSV_FIELDS)
        for number, group, role, sample in _members(groups, layers):
            r = sample.record
            writer.writerow([number, group.kind, role, r["id"], r["path"], r.get("format"),
                             r.get("sample_rate"), r.get("bit_depth"), r.get("duration"),
                             group.distance, group.reason, r.get("loudness_lufs")])
    elif groups or layers:
        from rich.markup import escape
        from rich.table import Table

        from ..output import out_console

        table = Table(box=None, header_style="bold", pad_edge=False)
        for header in ("group", "kind", "", "id", "path", "format", "rate", "bits", "LUFS"):
            table.add_column(header, overflow="fold")
        members = list(_members(groups, layers))
        for index, (number, group, role, sample) in enumerate(members):
            r = sample.record
            first = index == 0 or members[index - 1][0] != number
            table.add_row(str(number), group.kind if first else "", role,
                          str(r["id"]), escape(printable(r["path"])),
                          str(r.get("format") or ""),
                          str(r.get("sample_rate") or ""), str(r.get("bit_depth") or ""), _lufs(r))
            if index + 1 == len(members) or members[index + 1][0] != number:
                table.add_row("", "", "", "", f"[dim]{escape(group.reason)}[/]", "", "", "", "",
                              end_section=True)
        out_console().print(table)


@app.command()
def dupes(
    query: Annotated[str | None, typer.Argument(
        help="Only look among samples matching this query.")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", "-t", metavar="X", min=0.0, max=float(MAX_THRESHOLD),
        help="Near duplicates: the largest combined distance (default 0.20; 0 = exact only).")
    ] = None,
    exact_only: Annotated[bool, typer.Option(
        "--exact-only", help="Only identical audio (also across formats).")] = False,
    near_only: Annotated[bool, typer.Option(
        "--near-only", help="Only near duplicates.")] = False,
    move_to: Annotated[str | None, typer.Option(
        "--move-to", metavar="DIR", help="Move the redundant copies under DIR (keeping their "
        "relative paths) and write an undo manifest there.")] = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Delete the redundant copies (asks first unless --yes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --delete.")] = False,
    undo: Annotated[str | None, typer.Option(
        "--undo", metavar="MANIFEST", help="Put back the files a --move-to manifest moved.")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Exact and near duplicate groups, each with a suggested keeper; changes nothing
    unless --move-to or --delete is given."""
    if exact_only and near_only:
        raise UsageError("--exact-only and --near-only exclude each other")
    if sum(bool(x) for x in (move_to, delete, undo)) > 1:
        raise UsageError("choose one of --move-to, --delete and --undo")
    if (move_to or delete or undo) and fmt in (Format.csv, Format.paths):
        # What was moved, deleted or restored is a report, not a listing of groups.
        raise UsageError("--move-to, --delete and --undo report as table (on stderr), json or jsonl")
    console = err_console()
    with open_library() as library, options(threshold="--threshold"):
        if undo:
            result = library.undo_dupes(undo)
            _report_action(result, fmt)
            return
        groups, layers = library.dupes_and_layers(threshold=threshold, exact=not near_only,
                                                  near=not exact_only, query=query)
        redundant = sum(len(group.others) for group in groups)
        if not (move_to or delete):
            _write_groups(groups, fmt, layers)
            kept = (f" {len(layers)} set(s) of velocity layers or round robins are kept as they are."
                    if layers else "")
            console.print(f"{len(groups)} group{'s' * (len(groups) != 1)}, {redundant} "
                          f"redundant file(s).{kept} Nothing changed (use --move-to DIR or --delete).")
            return
        if not groups:
            console.print("No duplicates: nothing to do.")
            return
        if delete and not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"--delete would delete {redundant} file(s): confirm with --yes "
                                 "(no terminal to ask on)")
            _write_groups(groups, Format.table)
            if not typer.confirm(f"Delete {redundant} file(s) from disk?", default=False,
                                 err=True):
                console.print("Nothing deleted.")
                raise typer.Exit(ExitCode.ERROR)
        result = library.delete_dupes(groups) if delete else library.move_dupes(groups, move_to)
    _report_action(result, fmt)


def _report_action(result: Any, fmt: Format) -> None:
    console = err_console()
    if fmt in (Format.json, Format.jsonl):
        write_mapping(result.to_json(), fmt)
    verb = {"move": "Moved", "delete": "Deleted", "undo": "Restored"}[result.action]
    console.print(f"{verb} {len(result.files)} file(s).", highlight=False)
    if result.manifest and result.action == "move":
        console.print(f"Undo with: samplemind dupes --undo {result.manifest}", markup=False)
    for failure in result.failures:
        console.print(f"  {printable(failure.path)}: {failure.error}", markup=False, highlight=False)
    if result.failures:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)


MAP_FIELDS = ("id", "x", "y", "type", "category", "name", "path")


@app.command("map")
def sound_map(fmt: FormatOption = Format.json) -> None:
    """2D coordinates of every sample by sound (PCA of the sound vectors), for plotting."""
    with open_library() as library:
        points = library.map()
    if fmt is Format.csv:
        _write_csv_points(points)
    elif fmt is Format.table:
        write_records(points, fmt, extra=(("x", "x", 3), ("y", "y", 3)))
    else:
        write_records(points, fmt)


@pipe_safe
def _write_csv_points(points: list[dict[str, Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(MAP_FIELDS)
    for point in points:
        writer.writerow(["" if point.get(name) is None else point[name] for name in MAP_FIELDS])


@index_app.command("status")
def index_status(fmt: FiguresFormatOption = Format.table) -> None:
    """Kind, size, generation and tuning of the similarity index (brought up to date)."""
    with open_library() as library:
        write_mapping(library.index_status(), fmt)


@index_app.command("rebuild")
def index_rebuild(fmt: FiguresFormatOption = Format.table) -> None:
    """Rebuild the similarity index from the vectors in the catalog."""
    with open_library() as library:
        write_mapping(library.rebuild_index(), fmt)
