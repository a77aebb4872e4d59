"""The command line: parse, call one Library method, render. main() maps errors to exit codes."""

from __future__ import annotations

import math
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import __version__
from .config import DEFAULT_TIMEOUT
from .errors import SampleMindError, UsageError
from .library import Library
from .models import ScanReport
from .output import (
    Format,
    PipeClosed,
    err_console,
    human_bytes,
    iter_json,
    write_mapping,
    write_record_detail,
    write_records,
)
from .textsafe import printable

if TYPE_CHECKING:
    from .analysis.executors import AnalysisExecutor

app = typer.Typer(
    name="samplemind",
    help="Analyse a sample library and find sounds by BPM, key, pitch, category and tags.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(help="Inspect or clear the feature and AI answer caches.",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


class SampleType(str, Enum):
    """Loop or one-shot."""

    loop = "loop"
    oneshot = "oneshot"


class State:
    """Options every command shares."""

    home: str | None = None
    traceback: bool = False
    interrupt_explained: bool = False  # a command already said what Ctrl-C left behind


state = State()

FormatOption = Annotated[Format, typer.Option(
    "--format", "-f", help="Output format: table, json, jsonl, csv or paths.",
    case_sensitive=False)]
JobsOption = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1, help="Worker processes for analysis (default: the core count).")]
TimeoutOption = Annotated[float, typer.Option(
    "--timeout", min=1.0,
    help="Seconds one file may take before it is failed (plus 1 s per MB).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samplemind {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    home: Annotated[str | None, typer.Option(
        "--home", envvar="SAMPLEMIND_HOME",
        help="Folder holding the catalog, cache and index (default: platform folders).")] = None,
    traceback: Annotated[bool, typer.Option(
        "--traceback", help="Show the full Python traceback on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Analyse a sample library and find sounds by BPM, key, pitch, category and tags."""
    state.home = home
    state.traceback = traceback


def open_library(jobs: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> Library:
    """The Library the global options point at."""
    return Library(state.home, jobs=jobs, timeout=timeout)


# -- scanning ---------------------------------------------------------------------------


def run_scan(library: Library, paths: list[str], retry_failed: bool = False,
             executor: AnalysisExecutor | None = None) -> ScanReport:
    """Scan with a progress bar on stderr (when it is a terminal) and a summary after."""
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
        except KeyboardInterrupt:
            console.print("Scan interrupted: what was analysed is kept; scan again to resume.")
            state.interrupt_explained = True
            raise
    print_scan_summary(report)
    return report


def _categories(count: int) -> str:
    return f"{count} categor{'y' if count == 1 else 'ies'}"


def print_scan_summary(report: ScanReport) -> None:
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
            console.print(f"  {printable(failure.path)}: {failure.error}", markup=False,
                          highlight=False)
        console.print("Replace or remove these files; an unchanged failed file is not tried "
                      "again unless you scan with --retry-failed.")


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Folders or files to add or update.")],
    jobs: JobsOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Analyse again files that failed before and did not change.")
    ] = False,
    fmt: Annotated[Format | None, typer.Option(
        "--format", "-f", help="Also print the scan report to stdout (json or jsonl).",
        case_sensitive=False)] = None,
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
    from .analysis.backends import open_executor

    if (path_map or ship_bytes) and not cluster:
        raise UsageError("--path-map and --ship-bytes need --cluster (or SAMPLEMIND_CLUSTER)")
    with open_library(jobs, timeout) as library:
        if not cluster:
            report = run_scan(library, paths, retry_failed)
        else:
            console = err_console()
            console.print(f"Starting local Dask workers ({cluster}) ..." if cluster.startswith("local")
                          else f"Connecting to the Dask scheduler at {cluster} ...", markup=False)
            with open_executor(library.jobs, timeout, cluster=cluster, path_map=path_map or None,
                               ship_bytes=ship_bytes or None,
                               notify=lambda message: console.print(message, markup=False)
                               ) as executor:
                report = run_scan(library, paths, retry_failed, executor)
    if fmt in (Format.json, Format.jsonl):
        write_mapping(report.to_json(), fmt)
    if report.failed:
        raise typer.Exit(3)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(
        help="Where to write the demo pack.")] = Path("samplemind-demo"),
    jobs: JobsOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write a small generated sample pack, scan it and list it."""
    from .demo import write_demo_pack

    console = err_console()
    target = Path(os.path.abspath(directory))  # as the scan stores it: no symlink resolving
    files = write_demo_pack(target)
    console.print(f"Wrote {len(files)} demo samples to {target}", markup=False)
    with open_library(jobs) as library:
        report = run_scan(library, [str(target)])
        write_records(iter_json(library.ls(under=str(target))), fmt)
    if report.failed:
        raise typer.Exit(3)


# -- reading back -----------------------------------------------------------------------


def _parse_range(text: str | None) -> tuple[float | None, float | None] | None:
    if not text:
        return None
    low_text, sep, high_text = text.partition("..")
    try:
        if not sep:
            low = high = float(text)
        else:
            low = float(low_text) if low_text else None
            high = float(high_text) if high_text else None
    except ValueError:
        raise UsageError(f"bad range {text!r}: use MIN..MAX, MIN.. or ..MAX") from None
    if any(value is not None and not math.isfinite(value) for value in (low, high)):
        raise UsageError(f"bad range {text!r}: the ends must be numbers")
    if low is not None and high is not None and low > high:
        raise UsageError(f"bad range {text!r}: MIN is larger than MAX")
    return low, high


@app.command("ls")
def list_samples(
    query: Annotated[str | None, typer.Argument(
        help="A query, e.g. 'cat:kick bpm:120..128 key:Am~ -tag:used' (README: Queries).")
    ] = None,
    type_: Annotated[SampleType | None, typer.Option(
        "--type", help="Only loops or one-shots.", case_sensitive=False)] = None,
    category: Annotated[str | None, typer.Option(
        "--category", "-c", help="Only this category (kick, snare, hihat, bass, ...).")] = None,
    bpm: Annotated[str | None, typer.Option(
        "--bpm", help="Tempo range MIN..MAX (either end may be left open).")] = None,
    key: Annotated[str | None, typer.Option(
        "--key", help="Only this key, e.g. Am, 'F# major'.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=0, max=2**62, help="At most this many samples.")] = None,
    ask: Annotated[str | None, typer.Option(
        "--ask", metavar="WORDS", help="Plain words, e.g. 'dark punchy kick': a local model "
        "(Ollama) or the built-in translator turns them into a query, shown on stderr.")
    ] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Ollama model for --ask (default: $SAMPLEMIND_AI_MODEL or "
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
    from .music import parse_key

    wanted_key = None
    if key:
        wanted_key = parse_key(key)
        if wanted_key is None:
            raise UsageError(f"not a key: {key!r} (try Am, 'C major', F#m)")
    if (model or no_model) and ask is None:
        raise UsageError("--model and --no-model go with --ask WORDS")
    with open_library() as library:
        if ask is not None:  # plain words become a query, ANDed with one given as well
            from .commands.ai import ask_query

            query = " ".join(part for part in (ask_query(library, ask, model, no_model), query)
                             if part)
        if min_confidence is not None:  # filters count trusted estimates only
            from .analysis.calibration import trusted_terms

            options = {"type": type_, "category": category, "bpm": bpm, "key": key}
            query = " ".join(part for part in (query, trusted_terms(
                query, [name for name, given in options.items() if given], min_confidence))
                if part) or None
        samples = library.ls(query, type=type_.value if type_ else None,
                             category=category.lower() if category else None, bpm=_parse_range(bpm),
                             key=wanted_key, limit=limit)
        records = iter_json(samples)
        if min_confidence is not None:
            from .analysis.calibration import hide_uncertain

            records = (hide_uncertain(record, min_confidence) for record in records)
        shown = write_records(records, fmt)
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
def stats(fmt: FormatOption = Format.table) -> None:
    """Library figures: counts by type, category and format; size; roots."""
    with open_library() as library:
        figures = library.stats()
    if fmt is Format.table:
        figures = {**figures, "size": human_bytes(figures["size"]),
                   "duration": f"{figures['duration']:.1f} s"}
    write_mapping(figures, fmt)


@cache_app.command("stats")
def cache_stats(fmt: FormatOption = Format.table) -> None:
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


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached analysis and AI answer (the catalog is kept)."""
    with open_library() as library:
        removed = library.cache_clear()
        answers = library.ai_cache_clear()
    err_console().print(f"Removed {removed} cache entries and {answers} AI answers.")


# -- entry point ------------------------------------------------------------------------

# Command groups that live in their own modules register themselves on `app`.
from .commands import accounts as _accounts  # noqa: E402, F401
from .commands import ai as _ai  # noqa: E402, F401
from .commands import export as _export  # noqa: E402, F401
from .commands import organise as _organise  # noqa: E402, F401
from .commands import serve as _serve  # noqa: E402, F401
from .commands import similarity as _similarity  # noqa: E402, F401
from .commands import watch as _watch  # noqa: E402, F401


def _quiet_broken_pipe() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the exit code of DESIGN.md."""
    command = typer.main.get_command(app)
    code = 0
    try:
        # Without standalone mode click returns the code of a typer.Exit instead of raising.
        returned = command.main(args=argv, prog_name="samplemind", standalone_mode=False)
        if isinstance(returned, int):
            code = returned
        if code == 130 and not state.interrupt_explained:  # typer turns Ctrl-C into Exit(130)
            err_console().print("interrupted")
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        err_console().print("interrupted")
        code = 130
    except typer.TyperException as exc:  # click's errors: usage errors exit 2
        show = getattr(exc, "show", None)
        if show:
            show()
        else:
            err_console().print(f"error: {exc.format_message()}", markup=False)
        code = exc.exit_code
    except KeyboardInterrupt:
        err_console().print("interrupted; what was analysed is kept, scan again to resume")
        code = 130
    except (BrokenPipeError, PipeClosed):
        _quiet_broken_pipe()
        code = 0
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
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    if argv is None:
        sys.exit(code)
    return code
