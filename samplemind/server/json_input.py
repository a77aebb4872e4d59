"""The one parser of JSON request bodies: whatever a client sends is a 400 in the one error
shape, never a 500.

orjson already refuses what the catalog could not store or answer back: invalid UTF-8, lone
surrogates (``"\\ud800"``), NaN and Infinity, numbers too large for a double (``1e400``). On
top of it, nesting is bounded far below anything our code recurses through (a repr of a
1,000-deep list is a RecursionError). Ranges of values are each route's to check.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import UsageError

MAX_DEPTH = 32  # our bodies are two levels deep; 32 leaves room and bounds every walk


def parse_json(raw: bytes) -> Any:
    """A request body's JSON value; UsageError (400) says what is wrong."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"the body is not valid JSON: {exc}") from None
    _check(value)
    return value


def _check(value: Any) -> None:
    # Iterative, so a deep body cannot make the check itself recurse.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise UsageError(f"the body is nested too deeply (at most {MAX_DEPTH} levels)")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, (dict, list)))
