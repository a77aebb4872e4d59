"""The SampleMindError tree: each error knows its exit code and HTTP status; ExitCode names
the codes (the contract in ARCHITECTURE.md and the man page)."""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class ExitCode(IntEnum):
    """The process's exit status (cli.main)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL_FAILURE = 3  # finished, but some files failed (the command listed them)
    COMPONENT_MISSING = 4  # an optional component (Ollama, a Dask cluster) is missing
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM (128 + 15), handled like Ctrl-C where work is under way


class SampleMindError(Exception):
    """Base of every error samplemind reports to a person."""

    exit_code = ExitCode.ERROR
    http_status = 500
    # A setting that would help, said without assuming a caller: the core's name for it ->
    # the words the message uses ("timeout" -> "the timeout"). The CLI says its option
    # instead (commands.common.options); over HTTP the message is used as it is.
    settings: dict[str, str] = {}

    def naming(self, **settings: str) -> Self:
        """This error, its message naming these settings in these words."""
        self.settings = settings
        return self


class UsageError(SampleMindError):
    """The command line or request was malformed."""

    exit_code = ExitCode.USAGE
    http_status = 400


class BadValue(UsageError):
    """A parameter's value is outside its rule, said without assuming a caller: `name` is the
    core's name for it ("threshold") and `reason` the rule ("must be above 0 and at most 1").
    The CLI names the option instead (`commands.common.options`); over HTTP the name is the
    request's own field or query parameter, so the message is used as it is."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason


class QueryError(UsageError):
    """The query string could not be parsed."""


class NotFound(SampleMindError):
    """No sample (or file) matches what was asked for."""

    http_status = 404


class Forbidden(SampleMindError):
    """Not allowed: a file the library may not delete, a path outside the server's scan roots,
    a file delete without the server's --allow-delete, a foreign Host or Origin."""

    http_status = 403


class DecodeError(SampleMindError):
    """A file could not be decoded as audio."""

    http_status = 422


class AnalysisError(SampleMindError):
    """Analysis of one file failed (crash, timeout, bad data)."""


class ComponentMissing(SampleMindError):
    """An optional component is missing or unreachable (e.g. Ollama)."""

    exit_code = ExitCode.COMPONENT_MISSING
    http_status = 503


class CatalogError(SampleMindError):
    """The catalog could not be opened or is damaged."""


class ClusterError(ComponentMissing):
    """The Dask cluster is unreachable or lost, or its workers run other versions."""
