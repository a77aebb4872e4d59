"""Small HTTP helpers shared by the routes: JSON bodies (ETag, 304, gzip), parameters.

`encode` is the server's one JSON encoder: every JSON it sends, HTTP answers, errors,
login answers and WebSocket events alike, is made by it, so each is valid UTF-8 with
undecodable bytes of file names written as ``\\xHH`` and a ``<field>_b64`` sibling
(textsafe.json_safe)."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import hdrs, web
from multidict import CIMultiDict

from ..errors import UsageError
from ..library import Library
from ..output import json_default
from ..textsafe import json_safe
from .context import CONTEXT, ServerContext
from .json_input import parse_json

GZIP_MIN_BYTES = 1024  # smaller bodies are sent as they are
GZIP_LEVEL = 5


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON, as output.dumps writes it (orjson: a tenth of the stdlib's time,
    the largest share of a one-sample answer otherwise)."""
    try:
        return orjson.dumps(data, default=json_default)
    except TypeError:  # a file name with undecodable bytes (a scan's warnings): textsafe.py
        return orjson.dumps(json_safe(data), default=json_default)


class Body:
    """A JSON body: bytes, weak ETag, and its gzipped copy (made when first asked for, or
    at once with want_gzip, in the worker thread that made the body)."""

    __slots__ = ("raw", "etag", "_gzipped")

    def __init__(self, data: Any, want_gzip: bool) -> None:
        self.raw = encode(data)
        self.etag = 'W/"' + hashlib.blake2b(self.raw, digest_size=12).hexdigest() + '"'
        self._gzipped: bytes | None = None
        if want_gzip:
            self.gzipped()

    @classmethod
    def from_raw(cls, raw: bytes, etag_source: bytes | None = None) -> Body:
        """A body from JSON bytes already made (spliced from cached answers). etag_source:
        bytes that determine raw (its parts' ETags), cheaper to hash than raw itself."""
        body = cls.__new__(cls)
        body.raw = raw
        body.etag = 'W/"' + hashlib.blake2b(raw if etag_source is None else etag_source,
                                            digest_size=12).hexdigest() + '"'
        body._gzipped = None
        return body

    @classmethod
    def kept(cls, data: Any) -> Body:
        """A body to keep in memory for long: orjson's bytes carry several KB of spare
        capacity each (90k one-sample answers took 785 MB instead of 160), a copy drops it."""
        body = cls(data, want_gzip=False)
        body.raw = bytes(memoryview(body.raw))
        return body

    @property
    def gzip_pending(self) -> bool:
        """True while gzipped() has work to do: a body worth compressing, not compressed
        yet (a route then calls it in a worker thread, off the event loop)."""
        return self._gzipped is None and len(self.raw) >= GZIP_MIN_BYTES

    def gzipped(self) -> bytes | None:
        """The gzipped body, or None when the body is too small to be worth it."""
        if self.gzip_pending:
            self._gzipped = gzip.compress(self.raw, GZIP_LEVEL, mtime=0)
        return self._gzipped


def context(request: web.Request) -> ServerContext:
    """The server's state."""
    return request.app[CONTEXT]


def accepts_gzip(request: web.Request) -> bool:
    """True when the client takes gzip (and did not refuse it with q=0)."""
    header = request.headers.get(hdrs.ACCEPT_ENCODING)
    if not header:  # scripts and load generators often send none: no parsing then
        return False
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip()
            return not (quality.startswith("q=") and _float(quality[2:]) == 0.0)
    return False


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def etag_matches(request: web.Request, etag: str) -> bool:
    """If-None-Match names this entity (weak comparison, as RFC 9110 asks for GET)."""
    header = request.headers.get(hdrs.IF_NONE_MATCH)
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


# The headers every JSON answer has, made once: copying a CIMultiDict, whose names are
# case-folded already, costs less than building one from a dict (twice: aiohttp copies
# what it is given), on the path of every one-sample answer.
_JSON_HEADERS = CIMultiDict({"Vary": "Accept-Encoding", "Cache-Control": "no-cache"})


def body_response(request: web.Request, body: Body, status: int = 200) -> web.Response:
    """The JSON response: 304 when the client has it, gzip when it pays."""
    headers = _JSON_HEADERS.copy()
    if request.method in ("GET", "HEAD"):
        headers["ETag"] = body.etag
        if status == 200 and etag_matches(request, body.etag):
            return web.Response(status=304, headers=headers)
    gzipped = body.gzipped() if accepts_gzip(request) else None
    if gzipped is not None:
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=gzipped, status=status, headers=headers,
                            content_type="application/json")
    return web.Response(body=body.raw, status=status, headers=headers,
                        content_type="application/json")


async def spliced_response(request: web.Request, body: Body) -> web.Response:
    """body_response for a body spliced on the loop from cached answers: its gzipped copy,
    when the client wants one and it is not made yet, is made in a worker thread."""
    if accepts_gzip(request) and body.gzip_pending:
        await context(request).pool.run_stream(lambda library: body.gzipped())
    return body_response(request, body)


async def json_call(request: web.Request, call: Callable[..., Any], *args: Any,
                    status: int = 200) -> web.Response:
    """call(library, *args) in a worker thread, its result rendered there too."""
    want_gzip = accepts_gzip(request)

    def work(library: Library) -> Body:
        return Body(call(library, *args), want_gzip)

    body = await context(request).pool.run(work)
    return body_response(request, body, status)


def json_now(request: web.Request, data: Any, status: int = 200) -> web.Response:
    """A small JSON body rendered on the loop."""
    return body_response(request, Body(data, accepts_gzip(request)), status)


def json_response(data: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer made by `encode` (no ETag or gzip: errors, login answers)."""
    return web.Response(body=encode(data), status=status, headers=headers,
                        content_type="application/json")


def error_body(message: str, status: int,
               headers: Mapping[str, str] | None = None) -> web.Response:
    """The one error shape: {"ok": false, "error": ..., "status": N} (auth.py's answers too)."""
    return json_response({"ok": False, "error": message, "status": status}, status, headers)


# -- parameters ---------------------------------------------------------------------------


def sample_id(request: web.Request) -> int:
    """The {id} of the path, a positive integer below SQLite's limit."""
    text = request.match_info["id"]
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise NotFoundId(text)
    return int(text)


def unique_ids(ids: list[int]) -> list[int]:
    """A body's "ids" (checked by the route's schema, routing.sample_ids), each once, in
    their order."""
    return list(dict.fromkeys(ids))


class NotFoundId(UsageError):
    """A sample id that cannot exist (not a number)."""

    http_status = 404

    def __init__(self, text: str) -> None:
        super().__init__(f"no sample has id {text!r} (ids are positive integers)")


BODY: web.RequestKey[dict[str, Any]] = web.RequestKey("samplemind_body", dict)


def checked_body(request: web.Request) -> dict[str, Any]:
    """The JSON body routing.add_routes read and checked against the route's schema."""
    return request[BODY]


async def json_value(request: web.Request) -> Any:
    """The request's JSON value (the app's body size limit applies; json_input.py bounds
    the rest)."""
    if request.content_type != "application/json":
        from .errors import UnsupportedMediaType

        raise UnsupportedMediaType("send a JSON body (Content-Type: application/json)")
    return parse_json(await request.read())
