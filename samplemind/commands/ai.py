"""describe and doctor, and the plain-words half of ``ls --ask``: the local AI commands."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ExitCode
from ..output import Format, err_console, human_bytes, write_mapping, write_rows
from ..textsafe import printable
from .common import FiguresFormatOption, FormatOption, in_options, open_library, options, state

if TYPE_CHECKING:
    from ..ai.describe import DescribeReport
    from ..library import Library

app = typer.Typer()
ModelOption = Annotated[str | None, typer.Option(
    "--model", "-m", metavar="MODEL", help="Ollama model (default: $SAMPLEMIND_AI_MODEL or llama3.2:3b).")]
DESCRIBE_OPTIONS = {"timeout": "--timeout", "model": "another with --model"}
DESCRIBE_COLUMNS = ("id", "name", "description", "tags", "mood", "uses", "status")


@app.command()
def describe(
    samples: Annotated[list[str], typer.Argument(
        metavar="FILE|ID|QUERY...", help="Catalog ids, files or folders, or one query "
        "('cat:kick -tag:*').")],
    model: ModelOption = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Ask again, even for samples already described or cached.")] = False,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", "--concurrency", metavar="N", min=1, max=32,
        help="Requests to Ollama at once (it queues the rest).")] = 2,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=1.0, envvar="SAMPLEMIND_AI_TIMEOUT",
        help="Seconds one answer may take before the sample fails.")] = 60.0,
    fmt: FormatOption = Format.table,
) -> None:
    """Describe and tag samples with a local model (Ollama).

    Per sample: a one-line description, tags (source "ai"), a mood and suggested uses.
    Resumable. Exit 3 if some samples failed, 4 when Ollama or the model is missing.
    """
    with open_library() as library, options(**DESCRIBE_OPTIONS):
        report = _describe_with_progress(library, samples, model, refresh, jobs, timeout)
    rows = [item.to_json() for item in report.results]
    if fmt is Format.table:
        rows = [{**row, "tags": row["tags"], "uses": "; ".join(row["uses"])} for row in rows]
    write_rows(rows, fmt, DESCRIBE_COLUMNS)
    _describe_summary(report)
    if report.failures:
        raise typer.Exit(ExitCode.PARTIAL_FAILURE)


def _describe_with_progress(library: Library, samples: list[str], model: str | None,
                            refresh: bool, jobs: int, timeout: float) -> DescribeReport:
    """library.describe with a progress bar on stderr (when it is a terminal)."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    console = err_console()
    with Progress(SpinnerColumn(), TextColumn("[bold]describing"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[current]}"), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("describe", total=None, current="")

        def progress(done: int, total: int, name: str, status: str) -> None:
            bar.update(task, completed=done, total=total,
                       current=escape(f"{os.path.basename(name)[:40]} ({status})"))

        try:
            return library.describe(samples, model=model, refresh=refresh, concurrency=jobs,
                                    timeout=timeout, progress=progress)
        except KeyboardInterrupt:
            console.print("Describing interrupted: the descriptions so far are kept; run the "
                          "same command again to resume.")
            state.interrupt_explained = True
            raise


def _describe_summary(report: DescribeReport) -> None:
    console = err_console()
    kept = report.count("kept")
    console.print(
        f"Described {len(report.results)} sample(s) with {report.model}: "
        f"{report.count('described')} asked, {report.count('cached')} from the cache, "
        f"{kept} already described" + (" (--refresh asks again)" if kept else "")
        + f", {len(report.failures)} failed.", markup=False, highlight=False)
    for failure in report.failures:
        console.print(f"  {printable(failure.path)}: "
                      f"{in_options(failure.error, failure.settings, DESCRIBE_OPTIONS)}",
                      markup=False, highlight=False)
    if report.failures:
        console.print("Run the same command again to retry the failed ones.", highlight=False)


def ask_query(library: Library, words: str, model: str | None, no_model: bool) -> str:
    """ls --ask: the words as a query, with the translator used and the query on stderr."""
    with options(words="--ask", model="another with --model",
                 use_model="--no-model for the built-in translator"):
        result = library.ask(words, model=model, use_model=not no_model)
    console = err_console()
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    who = (f"model {result.model}" + (", cached" if result.cached else "")
           if result.translator == "model" else "built-in translator")
    console.print(f"query ({who}): {result.query or '(everything)'}", markup=False,
                  highlight=False)
    return result.query


# -- doctor -----------------------------------------------------------------------------


@app.command()
def doctor(
    model: ModelOption = None,
    require_ai: Annotated[bool, typer.Option(
        "--require-ai", help="Exit 4 unless Ollama runs and the model is pulled.")] = False,
    fmt: FiguresFormatOption = Format.table,
) -> None:
    """Check the catalog, caches, index and Ollama.

    Exit 0 when the core works, also without Ollama (it is optional); 1 when it does not;
    with --require-ai, 4 when Ollama or the model is missing.
    """
    from ..errors import CatalogError

    try:
        library = open_library()
    except CatalogError as error:  # the one check that stops every other
        report: dict[str, Any] = {"ok": False, "catalog": {"ok": False, "error": str(error)}}
    else:
        with library:
            report = library.doctor(model=model)
    if fmt in (Format.json, Format.jsonl):
        write_mapping(report, fmt)
    else:
        write_rows(_doctor_rows(report), fmt, ("check", "status", "detail"))
    ollama = report.get("ollama")
    if ollama and not ollama["ok"]:
        err_console().print(
            f"Ollama is optional: describe and ls --ask need it (ls --ask falls back to its "
            f"built-in translator). Fix: {ollama['fix']}", markup=False, highlight=False)
    if not report["ok"]:
        raise typer.Exit(ExitCode.ERROR)
    if require_ai and not (ollama and ollama["ok"]):
        raise typer.Exit(ExitCode.COMPONENT_MISSING)


def _doctor_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    """One line per check for people."""
    rows: list[dict[str, str]] = []

    def add(check: str, ok: bool, detail: str, bad: str = "FAIL") -> None:
        rows.append({"check": check, "status": "ok" if ok else bad, "detail": detail})

    catalog = report["catalog"]
    add("catalog", catalog["ok"], f"{catalog.get('path', '')}: {catalog['samples']} samples, "
        f"integrity {catalog['integrity']}" if "samples" in catalog else
        f"{catalog.get('error')}" + (f"; fix: {catalog['fix']}" if catalog.get("fix") else ""))
    if "cache" in report:
        cache = report["cache"]
        add("cache", cache["ok"],
            f"features {cache['features']['entries']} entries "
            f"({human_bytes(cache['features']['size'])}), AI answers {cache['ai']['entries']} "
            f"entries ({cache['ai']['hits']} hits, {cache['ai']['misses']} misses)"
            if cache["ok"] else f"{cache['error']}; fix: {cache['fix']}")
    if "index" in report:
        index = report["index"]
        add("index", index["ok"], index["note"])
    if "ollama" in report:
        ollama = report["ollama"]
        if ollama["ok"]:
            detail = f"{ollama['host']}: {ollama['model']} ready ({len(ollama['models'])} models)"
        elif ollama["reachable"]:
            names = ", ".join(item["name"] for item in ollama["models"]) or "none"
            detail = f"{ollama['error']} (pulled: {names}); fix: {ollama['fix']}"
        else:
            detail = f"{ollama['error']}"
        add("ollama", ollama["ok"], detail, bad="missing")
    return rows
