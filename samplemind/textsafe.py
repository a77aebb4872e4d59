"""Text from file names made safe to show and to encode: the one place both rules live.

File names are bytes. Python hands a name that is not valid UTF-8 over as a str whose bad bytes
are lone surrogates (U+DC80-U+DCFF, "surrogateescape"), and any name may hold control
characters. Two rules follow, used by every output:

- For people (tables, messages on stderr): `printable` shows control characters, Unicode
  direction overrides and undecodable bytes as escapes, as ``ls -b`` and ripgrep do: ``\\x1b``
  for a control character, ``\\u202e`` for a non-ASCII one, ``\\xff`` for a byte that is not
  UTF-8, ``\\n`` ``\\t`` ``\\r``. A name can then never move the cursor, recolour the
  terminal or hide what follows it.
- For programs (JSON, JSON lines, CSV): `json_safe` leaves valid text alone and writes each
  undecodable byte as the four characters ``\\xHH``, so the output is always valid UTF-8; a
  JSON object whose string field needed that gains a sibling ``<field>_b64`` holding the exact
  bytes in base64 (``jq -r .path_b64 | base64 -d`` gives the real name back).
"""

from __future__ import annotations

import base64
import re
from typing import Any

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, and
# lone surrogates (undecodable bytes, or a broken string from elsewhere).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_UNSAFE_KEEP_NEWLINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f"
                                   "\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Text for a terminal, control characters and undecodable bytes escaped (see module doc).

    keep_newlines: for a message of several lines; a table cell or a name escapes them too.
    """
    pattern = _UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def has_undecodable(text: str) -> bool:
    """Whether a str holds lone surrogates, which no UTF-8 encoder accepts."""
    return _SURROGATE.search(text) is not None


def escape_undecodable(text: str) -> str:
    """Valid text: each undecodable byte as ``\\xHH`` (other lone surrogates ``\\udXXX``)."""
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def raw_bytes_b64(text: str) -> str | None:
    """The bytes a surrogate-escaped name stands for, base64; None if it is not one."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate outside U+DC80-U+DCFF: no file name has it
        return None
    return base64.b64encode(raw).decode("ascii")


def json_safe(value: Any) -> Any:
    """A copy of JSON-ready data whose strings are valid UTF-8 (see module doc); objects with
    to_json() are converted first."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    if isinstance(value, str):
        return escape_undecodable(value)
    if isinstance(value, dict):
        safe: dict[Any, Any] = {}
        for key, item in value.items():
            name = escape_undecodable(key) if isinstance(key, str) else key
            if isinstance(item, str) and has_undecodable(item):
                safe[name] = escape_undecodable(item)
                encoded = raw_bytes_b64(item)
                if encoded is not None:
                    safe[f"{name}_b64"] = encoded
            else:
                safe[name] = json_safe(item)
        return safe
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
