"""scan and demo: adding folders to the catalog, with a progress bar and a summary."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import ExitCode, UsageError
from ..library import Library
from ..models import ScanReport
from ..output import Format, err_console, iter_json, write_mapping, write_records
from ..scan import ScanInterrupted
from ..textsafe import printable
from .common import (
    Folders,
    FormatOption,
    JobsOption,
    folders_command,
    format_option,
    in_options,
    open_library,
    options,
    state,
)

if TYPE_CHECKING:
    from ..analysis.executors import AnalysisExecutor

app = typer.Typer()
CLUSTER_OPTIONS = {"cluster": "--cluster", "path_map": "--path-map", "ship_bytes": "--ship-bytes"}


def run_scan(library: Library, paths: list[str], retry_failed: bool = False,
             executor: AnalysisExecutor | None = None, fmt: Format | None = None,
             say: Callable[[str], str] = str) -> ScanReport:
    """Scan with a progress bar on stderr (when it is a terminal) and a summary after (its
    failure texts through say: in the command's words).
    Ctrl-C or SIGTERM: the same message, the report (interrupted: true) on stdout when fmt
    is json or jsonl, and exit 130 or 143."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    console = err_console()
    phase_started = {"": time.perf_counter()}
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.fields[phase]}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[rate]} files/s"),
                  TimeRemainingColumn(), TextColumn("{task.fields[current]}"),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("scan", total=None, rate="-", current="", phase="walking")

        def progress(done: int, total: int, path: str, phase: str) -> None:
            if phase not in phase_started:  # a new phase: restart the bar, its rate and ETA
                bar.reset(task, total=total, completed=0)
            started = phase_started.setdefault(phase, time.perf_counter())
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:.0f}",
                       current=escape(printable(os.path.basename(path)[:40])),
                       phase=phase)

        try:
            report = library.scan(paths, progress=progress, retry_failed=retry_failed,
                                  executor=executor)
        except ScanInterrupted as stopped:
            console.print("Scan interrupted: what was analysed is kept; scan again to resume.")
            state.interrupt_explained = True
            if fmt in (Format.json, Format.jsonl):
                write_mapping(stopped.report.to_json(), fmt)
            if stopped.signum == signal.SIGTERM:
                raise typer.Exit(ExitCode.TERMINATED) from None
            raise
    print_scan_summary(report, say)
    return report


def _categories(count: int) -> str:
    return f"{count} categor{'y' if count == 1 else 'ies'}"


def print_scan_summary(report: ScanReport, say: Callable[[str], str] = str) -> None:
    """The human summary of a scan, on stderr."""
    console = err_console()
    rate = report.analysed / report.seconds if report.seconds else 0.0
    if report.seen == 0 and not report.removed:
        console.print("No audio files found (looked for .wav .aif .flac .ogg .mp3 .m4a and "
                      "more; hidden files are skipped).")
    for warning in report.warnings:
        console.print(f"skipped {printable(warning.path)}: {warning.error}", markup=False)
    console.print(
        f"Scanned {report.seen} file{'' if report.seen == 1 else 's'} in {report.seconds:.1f} s: "
        f"[green]{report.added} added[/], {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.moved} moved, {report.removed} removed, "
        f"[{'red' if report.failed else 'green'}]{report.failed} failed[/]"
        f" ({report.analysed} analysed, {report.cache_hits} from cache"
        + (f", {rate:.0f} files/s" if report.analysed else "") + ")"
        + (f"; {_categories(report.agreed)} refined by their nearest sounds"
           if report.agreed else "")
        + (f"; {_categories(report.taught)} learnt from named neighbours"
           if report.taught else ""))
    if report.failures:
        console.print("[red]Failed files:[/]")
        for failure in report.failures:
            console.print(f"  {printable(failure.path)}: {say(failure.error)}", markup=False,
                          highlight=False)
        console.print("Replace or remove these files; an unchanged failed file is not tried "
                      "again unless you scan with --retry-failed.")


@folders_command(app, paths_help="Folders or files to add or update.")
def scan(
    folders: Folders,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Analyse again files that failed before and did not change.")
    ] = False,
    fmt: format_option(Format.json, Format.jsonl,
                       help="Also print the scan report to stdout") = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", envvar="SAMPLEMIND_CLUSTER", metavar="ADDRESS",
        help="Analyse on a Dask cluster: the address of its scheduler (tcp://HOST:8786), "
             "or local:N to start N local workers (README: Analysis on a Dask cluster).")
    ] = None,
    path_map: Annotated[list[str] | None, typer.Option(
        "--path-map", metavar="LOCAL=REMOTE",
        help="Where the cluster's workers see a local folder, e.g. "
             "/Volumes/Samples=/mnt/samples (repeatable).")] = None,
    ship_bytes: Annotated[bool, typer.Option(
        "--ship-bytes", help="Send file contents to the cluster's workers (default: paths "
                             "when every worker sees the files, else contents).")] = False,
) -> None:
    """Add or update folders in the catalog (incremental; exit 3 if some files failed)."""
    from ..analysis.backends import SETTING_WORDS, open_executor

    if (path_map or ship_bytes) and not cluster:
        raise UsageError("--path-map and --ship-bytes need --cluster (or SAMPLEMIND_CLUSTER)")
    with folders.open_library() as library:
        if not cluster:
            report = run_scan(library, folders.paths, retry_failed, fmt=fmt)
        else:
            console = err_console()
            console.print(f"Starting local Dask workers ({cluster}) ..." if cluster.startswith("local")
                          else f"Connecting to the Dask scheduler at {cluster} ...", markup=False)

            def say(text: str) -> str:  # the cluster's words for its settings -> our options
                return in_options(text, SETTING_WORDS, CLUSTER_OPTIONS)

            with options(**CLUSTER_OPTIONS), open_executor(
                    library.jobs, folders.timeout, cluster=cluster, path_map=path_map or None,
                    ship_bytes=ship_bytes or None,
                    notify=lambda message: console.print(say(message), markup=False)) as executor:
                report = run_scan(library, folders.paths, retry_failed, executor, fmt, say)
    if fmt in (Format.json, Format.jsonl):
        write_mapping(report.to_json(), fmt)
    if report.failed:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(
        help="Where to write the demo pack.")] = Path("samplemind-demo"),
    jobs: JobsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a small generated sample pack, scan it and list it."""
    from ..demo import write_demo_pack

    console = err_console()
    target = Path(os.path.abspath(directory))  # as the scan stores it: no symlink resolving
    files = write_demo_pack(target)
    console.print(f"Wrote {len(files)} demo samples to {target}", markup=False)
    with open_library(jobs) as library:
        report = run_scan(library, [str(target)])
        write_records(iter_json(library.ls(under=str(target))), fmt)
    if report.failed:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)
