"""What every command shares: the global options' state, the common option types and
open_library (the exit codes are errors.ExitCode; ARCHITECTURE.md: How to add a command)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer

from ..config import DEFAULT_TIMEOUT
from ..errors import BadValue, UsageError
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

FormatOption = Annotated[Format, typer.Option(
    "--format", "-f", help="Output format: table, json, jsonl, csv or paths.",
    case_sensitive=False)]
JobsOption = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1, help="Worker processes for analysis (default: the core count).")]
TimeoutOption = Annotated[float, typer.Option(
    "--timeout", min=1.0,
    help="Seconds one file may take before it is failed (plus 1 s per MB).")]


def open_library(jobs: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> Library:
    """The Library the global options (--home, $SAMPLEMIND_HOME) point at."""
    return Library(state.home, jobs=jobs, timeout=timeout)


@contextmanager
def options(**names: str) -> Iterator[None]:
    """Say the core's refusal of a value in the command's words: `with options(threshold=
    "--threshold", k="-k"):` turns BadValue("threshold", "must be ...") into
    "--threshold must be ..."."""
    try:
        yield
    except BadValue as exc:
        if exc.name not in names:
            raise
        raise UsageError(f"{names[exc.name]} {exc.reason}") from None
