"""watch: keep the catalog current as files change."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Annotated

import typer

from ..errors import ExitCode
from ..output import Format, err_console
from ..scan import sigterm_stops_like_ctrl_c
from ..textsafe import printable
from .common import Folders, folders_command, format_option, state

app = typer.Typer()


@folders_command(app, paths_help="Folders to keep current in the catalog.")
def watch(
    folders: Folders,
    settle: Annotated[float, typer.Option(
        "--settle", metavar="SECONDS", min=0.0,
        help="Scan once no file has changed for this many seconds.")] = 1.0,
    old_quiet: Annotated[float | None, typer.Option(
        "--quiet", metavar="SECONDS", min=0.0, hidden=True,
        help="The old name of --settle (it took seconds, unlike other tools' --quiet).")] = None,
    max_wait: Annotated[float, typer.Option(
        "--max-wait", metavar="SECONDS", min=0.0,
        help="Scan at least this often while changes keep coming.")] = 10.0,
    poll: Annotated[bool, typer.Option(
        "--poll", help="Poll instead of using inotify (network drives are always polled).")] = False,
    fmt: format_option(Format.jsonl, help="Also print every event as a JSON line on stdout") = None,
) -> None:
    """Keep the catalog current as files are added, changed, moved or removed (Ctrl-C stops)."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..output import dumps
    from ..watch import WatchEvent
    from ..watch import watch as watch_folders

    console = err_console()
    if old_quiet is not None:
        console.print("warning: --quiet is now --settle (the same seconds); --quiet will go",
                      markup=False, highlight=False)
        settle = old_quiet
    # A bar while a scan has work to do (the first scan of a big library takes a while).
    bar = Progress(TextColumn("[bold]{task.fields[phase]}"), BarColumn(), MofNCompleteColumn(),
                   console=console, transient=True, disable=not console.is_terminal)
    task = bar.add_task("scan", total=None, phase="")

    def progress(done: int, total: int, path: str, phase: str) -> None:
        bar.start()
        bar.update(task, completed=done, total=total, phase=phase)

    def on_event(event: WatchEvent) -> None:
        bar.stop()
        if fmt in (Format.json, Format.jsonl):
            sys.stdout.write(dumps(event.to_json(), indent=None) + "\n")
            sys.stdout.flush()
        stamp = time.strftime("%H:%M:%S")
        if event.kind == "scan" and event.report is not None:
            report = event.report
            where = ", ".join(_short(path) for path in event.paths[:3])
            if len(event.paths) > 3:
                where += f" and {len(event.paths) - 3} more"
            counts = [f"{n} {label}" for n, label in (
                (report.added, "added"), (report.updated, "updated"), (report.moved, "moved"),
                (report.removed, "removed"), (report.failed, "failed")) if n]
            note = f" ({event.message})" if event.message else ""
            console.print(f"{stamp} {escape(where)}: {', '.join(counts) or 'no changes'} "
                          f"in {report.seconds:.1f} s{escape(note)}", highlight=False)
            for failure in report.failures:
                console.print(f"  failed {printable(failure.path)}: {failure.error}", markup=False)
            for warning in report.warnings:
                console.print(f"  skipped {printable(warning.path)}: {warning.error}", markup=False)
        elif event.kind == "error":
            console.print(f"{stamp} error: {event.message}", markup=False, highlight=False)
        elif event.kind == "ready":
            console.print(f"{stamp} {event.message[0].upper()}{event.message[1:]}. "
                          "Ctrl-C to stop.", markup=False, highlight=False)

    with folders.open_library() as library:
        try:
            # SIGTERM (a service manager stopping the watch) ends it the way Ctrl-C does, idle
            # or mid-scan: the batch in hand committed, observers and workers stopped.
            with sigterm_stops_like_ctrl_c():
                watch_folders(library, folders.paths, on_event=on_event, quiet=settle,
                              max_wait=max_wait, force_polling=poll, progress=progress)
        except KeyboardInterrupt as stopped:
            bar.stop()
            console.print("Stopped watching; the catalog is up to date with what was seen.")
            state.interrupt_explained = True
            terminated = getattr(stopped, "signum", signal.SIGINT) == signal.SIGTERM
            raise typer.Exit(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED) from None


def _short(path: str) -> str:
    """A path relative to the current folder when it is inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
