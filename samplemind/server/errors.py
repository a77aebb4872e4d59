"""Errors only the server raises; like every SampleMindError they carry their HTTP status."""

from __future__ import annotations

from ..errors import Forbidden, UsageError

__all__ = ["Forbidden", "PayloadTooLarge", "RangeNotSatisfiable", "UnsupportedMediaType"]


class PayloadTooLarge(UsageError):
    """A request body (an upload) is larger than the server accepts."""

    http_status = 413


class UnsupportedMediaType(UsageError):
    """A request body of a kind the route does not take."""

    http_status = 415


class RangeNotSatisfiable(UsageError):
    """An HTTP Range outside the file."""

    http_status = 416


class MethodNotAllowed(UsageError):
    """The route exists, but not with this method."""

    http_status = 405
