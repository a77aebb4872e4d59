"""What every command shares: the global options' state, the common option types and
open_library (the exit codes are errors.ExitCode; ARCHITECTURE.md: How to add a command)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import typer

from ..config import DEFAULT_TIMEOUT
from ..errors import BadValue, SampleMindError, UsageError
from ..library import Library
from ..output import Format


class SampleType(str, Enum):
    """Loop or one-shot."""

    loop = "loop"
    oneshot = "oneshot"


class State:
    """Options every command shares (set by the global callback in cli.py)."""

    home: str | None = None
    traceback: bool = False
    interrupt_explained: bool = False  # a command already said what Ctrl-C left behind


state = State()

def _spoken(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def format_option(*formats: Format, help: str | None = None) -> Any:
    """The --format/-f option of a command that writes exactly these formats: --help, the
    completions and the parser offer these and no others, and the command receives a Format.

    help: what the option does, when it is more than the output format (the formats are
    appended); with it the option is off by default (its default is None).
    """
    names = [fmt.value for fmt in formats]
    # An Enum of these formats alone: typer's choices (and the completions) come from its type.
    offered = Enum(f"Format_{'_'.join(names)}", {name: name for name in names}, type=str)
    text = (f"{help} ({_spoken(names)})." if help else f"Output format: {_spoken(names)}.")
    return Annotated[offered, typer.Option(
        "--format", "-f", metavar="FORMAT", help=text, case_sensitive=False,
        callback=lambda value: None if value is None else Format(value.value))]


# Listings of records or rows: every format.
FormatOption = format_option(*Format)
# A set of figures (stats, cache stats, index status): a table for people or JSON.
FiguresFormatOption = format_option(Format.table, Format.json, Format.jsonl)
# Rows that are not samples (tags, collections, accounts): no path to print.
RowsFormatOption = format_option(Format.table, Format.json, Format.jsonl, Format.csv)
JobsOption = Annotated[int | None, typer.Option(
    "--jobs", "-j", metavar="N", min=1, help="Worker processes for analysis (default: the core count).")]
TimeoutOption = Annotated[float, typer.Option(
    "--timeout", metavar="SECONDS", min=1.0,
    help="Seconds one file may take before it is failed (plus 1 s per MB).")]
# The filters ls and similar share.
TypeOption = Annotated[SampleType | None, typer.Option(
    "--type", help="Only loops or one-shots.", case_sensitive=False)]
CategoryOption = Annotated[str | None, typer.Option(
    "--category", "-c", metavar="NAME", help="Only this category (kick, snare, hihat, bass, ...).")]


def open_library(jobs: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> Library:
    """The Library the global options (--home, $SAMPLEMIND_HOME) point at."""
    with options(home="another --home"):
        return Library(state.home, jobs=jobs, timeout=timeout)


@dataclass(frozen=True)
class Folders:
    """What a command that analyses folders (scan, watch) is given first: the PATH arguments
    and the --jobs and --timeout options (see folders_command)."""

    paths: list[str]
    jobs: int | None
    timeout: float

    def open_library(self) -> Library:
        return open_library(self.jobs, self.timeout)


def folders_command(app: typer.Typer, paths_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command whose first parameter is `folders: Folders`: on the command line it is
    PATH... (help: paths_help), --jobs and --timeout, in that order before the command's own
    options, and the command receives them as one Folders."""
    shared = [
        inspect.Parameter("paths", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=Annotated[list[str], typer.Argument(metavar="PATH", help=paths_help)]),
        inspect.Parameter("jobs", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=JobsOption, default=None),
        inspect.Parameter("timeout", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=TimeoutOption, default=DEFAULT_TIMEOUT),
    ]

    def register(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        _folders, *own = signature.parameters.values()

        @functools.wraps(command)
        def run(paths: list[str], jobs: int | None, timeout: float, **own_options: Any) -> Any:
            return command(Folders(paths, jobs, timeout), **own_options)

        run.__signature__ = signature.replace(parameters=shared + own)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in shared + own}
        return app.command()(run)
    return register


@contextmanager
def options(**names: str) -> Iterator[None]:
    """Say the core's refusal of a value in the command's words: `with options(threshold=
    "--threshold", k="-k"):` turns BadValue("threshold", "must be ...") into
    "--threshold must be ...", and an error naming a setting (SampleMindError.naming, e.g.
    "(raise the timeout)") says the option in its place ("(raise --timeout)")."""
    try:
        yield
    except BadValue as exc:
        if exc.name not in names:
            raise
        raise UsageError(f"{names[exc.name]} {exc.reason}") from None
    except SampleMindError as exc:
        text = in_options(str(exc), exc.settings, names)
        if text == str(exc):
            raise
        exc.args = (text,)  # the same error (its exit code), in the command's words
        raise


def in_options(text: str, settings: Mapping[str, str], names: Mapping[str, str]) -> str:
    """text with the words it names each setting by (settings: name -> words, as in
    SampleMindError.naming) replaced by the command's option for it (names: name -> option),
    for the texts that reach the CLI as text: per-file failures, notices."""
    for name, words in settings.items():
        if name in names and words in text:  # the last: a path said earlier may hold the words
            before, _, after = text.rpartition(words)
            text = before + names[name] + after
    return text
