"""Query-string parameters read and checked by their route's declared schema (routing.Param):
the schema the OpenAPI document shows is the one that refuses a value, as body_schema does
for bodies (routing.add_routes compiles both once per route).

A parameter's text becomes its schema's type (integer, number, boolean or string), then the
compiled schema check runs; absent or empty, it is the schema's "default" (None without one).
A string parameter must declare its maxLength, so no query-string value is unbounded. A
refusal is a UsageError (400) naming the parameter: "limit must be at most 1000, not 5000".
Checks across parameters (all four corners of a region, or none) stay with the handler.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import UsageError
from .body_schema import Refused, compile_schema, shown

if TYPE_CHECKING:
    from .routing import Param

QueryReader = Callable[[Mapping[str, str]], dict[str, Any]]
QUERY: web.RequestKey[dict[str, Any]] = web.RequestKey("samplemind_query", dict)

_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")  # int64's digits: longer is out of every range
_DIGITS = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")
_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


def query_args(request: web.Request) -> dict[str, Any]:
    """The route's query parameters, read and checked (add_routes did it): name -> value."""
    return request[QUERY]


def _integer(text: str) -> int:
    if not _WHOLE.fullmatch(text):  # int() would also take " 7", "1_000", "٣" and 5,000 digits
        too_long = _DIGITS.fullmatch(text) is not None
        raise Refused(f"must be a whole number{' of at most 19 digits' if too_long else ''}, "
                      f"not {shown(text)}")
    return int(text)


def _number(text: str) -> float:
    value = float(text) if _NUMBER.fullmatch(text) else math.nan  # not " 1", "0_5", "nan"
    if not math.isfinite(value):
        raise Refused(f"must be a number, not {shown(text)}")
    return value


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Refused(f"must be true or false, not {shown(text)}")


def _string(text: str) -> str:
    if "\x00" in text:
        raise Refused("may not contain NUL characters")
    return text


_CONVERT: dict[str, Callable[[str], Any]] = {
    "integer": _integer, "number": _number, "boolean": _boolean, "string": _string}


def compile_query(params: Iterable[Param]) -> QueryReader | None:
    """A reader of a route's query parameters (None when it has none); ValueError for a
    schema it cannot read from text (another type, or a string without maxLength)."""
    readers: dict[str, tuple[Callable[[str], Any], Callable[[Any], None]]] = {}
    defaults: dict[str, Any] = {}
    for param in params:
        if param.where != "query":
            continue
        kind = param.schema.get("type")
        if kind not in _CONVERT:
            raise ValueError(f"query parameter {param.name}: type {kind!r} cannot be read "
                             "from a query string")
        if kind == "string" and "maxLength" not in param.schema:
            raise ValueError(f"query parameter {param.name}: a string needs its maxLength")
        readers[param.name] = (_CONVERT[kind], compile_schema(param.schema))
        defaults[param.name] = param.schema.get("default")
    if not readers:
        return None
    every = tuple(readers.items())

    def read(query: Mapping[str, str]) -> dict[str, Any]:
        values = dict(defaults)
        if not query:
            return values
        for name, (convert, check) in every:
            text = query.get(name)
            if not text:
                continue
            try:
                value = convert(text)
                check(value)
            except Refused as refused:
                raise UsageError(f"{name} {refused.message}") from None
            values[name] = value
        return values

    return read
