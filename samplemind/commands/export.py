"""export: build a kit (folder, links or zip) from a query."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ExitCode, UsageError
from ..output import Format, err_console, write_mapping
from ..textsafe import printable
from .common import format_option, open_library, options

app = typer.Typer()


@app.command()
def export(
    query: Annotated[str, typer.Argument(help="The samples to export, as a query ('' for all).")],
    to: Annotated[str | None, typer.Option(
        "--to", metavar="DIR", help="The kit folder (created if missing).")] = None,
    link: Annotated[bool, typer.Option(
        "--link", help="Hard links (a symbolic link across file systems) instead of copies.")
    ] = False,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the files (the default).")] = False,
    pattern: Annotated[str | None, typer.Option(
        "--pattern", "-p", metavar="PATTERN", help="Path of each file in the kit, e.g. "
        "'{category}/{bpm}_{key}_{name}' (default '{category}/{name}').")] = None,
    zip_file: Annotated[str | None, typer.Option(
        "--zip", metavar="FILE", help="Also (or only) write the kit as a zip file.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files that are already there.")] = False,
    instrument: Annotated[str | None, typer.Option(
        "--as", metavar="FORMAT", help="Also write a sampler instrument of the kit (sfz or "
        "decentsampler): drums on the General MIDI map, velocity layers by loudness, pitched "
        "sounds chromatic.")
    ] = None,
    round_robin: Annotated[bool, typer.Option(
        "--round-robin", help="With --as: further sounds of one drum become round robins on its "
        "key instead of neighbouring keys.")] = False,
    fmt: format_option(Format.json, Format.jsonl,
                       help="Also print the export report to stdout") = None,
) -> None:
    """Copy, link or zip the samples a query selects into a kit, with a JSON manifest."""
    if link and copy:
        raise UsageError("--link and --copy exclude each other")
    if not to and not zip_file:
        raise UsageError("say where the kit goes: --to DIR, --zip FILE, or both")
    if round_robin and instrument is None:
        raise UsageError("--round-robin shapes an instrument: add --as sfz or --as decentsampler")
    if instrument is not None:
        from ..instruments import check_format

        check_format(instrument)  # before the library is opened
    with open_library() as library, options(force="use --force", to="another --to",
                                            zip="another --zip"):
        report = library.export(query, to, mode="link" if link else "copy", pattern=pattern,
                                zip_path=zip_file, force=force, instrument=instrument,
                                round_robin=round_robin)
    if fmt in (Format.json, Format.jsonl):
        write_mapping(report.to_json(), fmt)
    console = err_console()
    where = " and ".join(x for x in (report.root, report.zip) if x)
    console.print(f"Exported {len(report.items)} file(s) to {where}.", markup=False,
                  highlight=False)
    if report.instrument is not None:
        zones = report.instrument["zones"]
        keys = len({zone["key"] for zone in zones})
        console.print(f"Instrument {printable(report.instrument['file'])} ({report.instrument['layout']}): "
                      f"{len(zones)} sample(s) on {keys} key(s).", markup=False, highlight=False)
        for warning in report.instrument["warnings"]:
            console.print(f"  note: {printable(warning)}", markup=False, highlight=False)
    for source, reason in report.skipped:
        console.print(f"  skipped {printable(str(source))}: {printable(reason)}", markup=False,
                      highlight=False)
    if report.skipped:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)
