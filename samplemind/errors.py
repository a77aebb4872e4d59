"""The SampleMindError tree: each error knows its exit code and HTTP status."""

from __future__ import annotations


class SampleMindError(Exception):
    """Base of every error samplemind reports to a person."""

    exit_code = 1
    http_status = 500


class UsageError(SampleMindError):
    """The command line or request was malformed."""

    exit_code = 2
    http_status = 400


class QueryError(UsageError):
    """The query string could not be parsed."""


class NotFound(SampleMindError):
    """No sample (or file) matches what was asked for."""

    exit_code = 1
    http_status = 404


class DecodeError(SampleMindError):
    """A file could not be decoded as audio."""

    exit_code = 1
    http_status = 422


class AnalysisError(SampleMindError):
    """Analysis of one file failed (crash, timeout, bad data)."""

    exit_code = 1
    http_status = 500


class PartialFailure(SampleMindError):
    """The command finished, but some files failed."""

    exit_code = 3
    http_status = 207


class ComponentMissing(SampleMindError):
    """An optional component is missing or unreachable (e.g. Ollama)."""

    exit_code = 4
    http_status = 503


class CatalogError(SampleMindError):
    """The catalog could not be opened or is damaged."""

    exit_code = 1
    http_status = 500


class ClusterError(ComponentMissing):
    """The Dask cluster is unreachable or lost, or its workers run other versions."""
