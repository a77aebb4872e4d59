"""Routes that send files: a sample's audio (HTTP Range, so players can seek) and a kit
as a zip download (streamed while it is written, never held in memory or on disk), of a
query (GET /api/v1/export) or of a selection of any size made with POST /api/v1/exports
(see exports.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, BinaryIO

from aiohttp import web

from ..errors import NotFound, UsageError
from ..export import DEFAULT_PATTERN, ZipStream
from ..instruments import FORMATS, InstrumentSpec, spec_for
from ..library import Library
from ..served import CataloguedFile, catalogued, checked_opener, open_catalogued, real_roots
from . import exports
from .downloads import DOWNLOADS, drop, send
from .guards import refuse_cross_site
from .http import checked_body, context, error_body, etag_matches, json_now, sample_id
from .query_params import query_args
from .routing import ID, VIEWER, Param, Route, sample_ids

CHUNK = 256 * 1024
RECORD_PAGE = 500  # records read at once for a zip
log = logging.getLogger("samplemind.server")

AUDIO_TYPES = {
    ".wav": "audio/wav", ".wave": "audio/wav", ".bwf": "audio/wav", ".rf64": "audio/wav",
    ".w64": "audio/x-w64", ".aif": "audio/aiff", ".aiff": "audio/aiff", ".aifc": "audio/aiff",
    ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".mp3": "audio/mpeg", ".mp2": "audio/mpeg", ".m4a": "audio/mp4", ".alac": "audio/mp4",
    ".aac": "audio/aac", ".caf": "audio/x-caf", ".wma": "audio/x-ms-wma", ".wv": "audio/x-wavpack",
    ".ape": "audio/x-ape", ".mpc": "audio/x-musepack", ".ac3": "audio/ac3", ".au": "audio/basic",
    ".snd": "audio/basic", ".amr": "audio/amr", ".webm": "audio/webm", ".mka": "audio/x-matroska",
}
_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_BYTES_UNIT = re.compile(r"^\s*bytes\s*=", re.IGNORECASE)
MAX_RANGES = 16  # more parts than this in one request is a scan of the file, not a player
_HUGE = 10**18  # beyond any file: what a longer number of bytes stands for


def _position(digits: str) -> int:
    """A byte position of the header; thousands of digits (Python's int() refuses over 4300:
    a 500) stand for "beyond any file"."""
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > 18 else int(digits)


def content_type(path: str) -> str:
    """The audio MIME type browsers expect for this file name."""
    return AUDIO_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


def parse_ranges(header: str, size: int) -> list[tuple[int, int]] | None | bool:
    """The (first, last) bytes a Range header asks for (RFC 9110 14.2): None to ignore it
    (not bytes, malformed, or more than MAX_RANGES parts: the whole file is sent, 200); False
    when no part can be satisfied (416). Ranges that overlap or touch are merged (14.2 lets a
    server coalesce), so a client that asks for the same bytes twice gets them once."""
    unit = _BYTES_UNIT.match(header)
    if not unit:
        return None
    # Empty list elements are skipped (RFC 9110 5.6.1): "bytes=0-1,,5-6".
    specs = [spec for spec in header[unit.end():].split(",") if spec.strip()]
    if not specs or len(specs) > MAX_RANGES:
        return None
    wanted: list[tuple[int, int]] = []
    for spec in specs:
        match = _RANGE_SPEC.match(spec)
        if not match or not any(match.groups()):
            return None
        first_text, last_text = match.groups()
        if not first_text:  # suffix: the last N bytes
            length = _position(last_text)
            if length > 0 and size > 0:
                wanted.append((max(0, size - length), size - 1))
            continue
        first = _position(first_text)
        last = _position(last_text) if last_text else size - 1
        if last_text and last < first:
            return None  # invalid (RFC 9110 14.1.1): the header is ignored
        if first < size:
            wanted.append((first, min(last, size - 1)))
    if not wanted:
        return False
    ordered = sorted(wanted)
    if all(ordered[i][1] + 1 < ordered[i + 1][0] for i in range(len(ordered) - 1)):
        return wanted  # disjoint: in the order asked (RFC 9110 14.6)
    merged = [ordered[0]]
    for first, last in ordered[1:]:
        if first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _not_modified(request: web.Request, etag: str, seconds: int) -> bool:
    """If-None-Match names this file, or (without it) If-Modified-Since is not older than
    its mtime in whole seconds."""
    if request.headers.get("If-None-Match") is not None:
        return etag_matches(request, etag)
    since = request.if_modified_since
    return since is not None and seconds <= since.timestamp()


def open_ahead(library: Library, entry: CataloguedFile, roots: list[str] | None, first: int,
               count: int) -> tuple[BinaryIO, os.stat_result, list[str], bytes]:
    """(open file, its stat, the real roots it was checked against, its first `count` bytes
    from `first`): the file of one sample opened and checked (served.py), and the start of
    the answer read, in one hop to a stream thread. roots: None to resolve them now."""
    if roots is None:
        roots = real_roots(library.roots())
    handle, info = open_catalogued(entry, roots)
    try:
        data = b""
        if count > 0:
            handle.seek(first)
            data = handle.read(count)
        return handle, info, roots, data
    except BaseException:
        handle.close()
        raise


@dataclass
class _Reply:
    """What an audio request is answered with, decided from the file's size and mtime (the
    catalog's, which the opened file is checked against, or the opened file's own)."""

    status: int
    headers: dict[str, str]
    pieces: list[tuple[bytes, int, int]]  # (part header, first byte, last byte)
    ending: bytes = b""
    content_type: str = ""
    length: int = 0
    refusal: web.Response | None = None  # 304 or 416: no bytes of the file are sent

    def ahead(self) -> tuple[int, int]:
        """(first byte, count) worth reading while the file is opened: the first chunk."""
        if self.refusal is not None or not self.pieces:
            return 0, 0
        _, first, last = self.pieces[0]
        return first, min(CHUNK, last - first + 1)


def _reply(request: web.Request, size: int, mtime_ns: int, path: str) -> _Reply:
    """The status, headers and byte ranges of the answer to this request (RFC 9110: 200, 206
    for one range, 206 multipart/byteranges for several, 304, 416)."""
    etag = f'"{size:x}-{mtime_ns:x}"'
    seconds = mtime_ns // 1_000_000_000
    headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "no-cache",
               "Last-Modified": formatdate(seconds, usegmt=True)}
    if _not_modified(request, etag, seconds):
        return _Reply(304, headers, [], refusal=web.Response(status=304, headers=headers))
    parts: list[tuple[int, int]] = [(0, size - 1)]
    status, mime = 200, content_type(path)
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    # If-Range with anything but this file's ETag (an old one, or a date): the whole file.
    if range_header and (if_range is None or if_range.strip() == etag):
        wanted = parse_ranges(range_header, size)
        if wanted is False:
            refusal = error_body(f"the range {range_header!r} is outside the file "
                                 f"({size} bytes)", 416)
            refusal.headers.update({"Content-Range": f"bytes */{size}", **headers})
            return _Reply(416, headers, [], refusal=refusal)
        if wanted:
            parts, status = wanted, 206
    if len(parts) == 1:
        if status == 206:
            headers["Content-Range"] = f"bytes {parts[0][0]}-{parts[0][1]}/{size}"
        return _Reply(status, headers, [(b"", *parts[0])], content_type=mime,
                      length=max(0, parts[0][1] - parts[0][0] + 1))
    # several ranges: multipart/byteranges (RFC 9110 14.6)
    boundary = uuid.uuid4().hex
    pieces = [((b"\r\n" if index else b"") + (
        f"--{boundary}\r\nContent-Type: {mime}\r\n"
        f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n").encode(), first, last)
        for index, (first, last) in enumerate(parts)]
    ending = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(head) + last - first + 1 for head, first, last in pieces) + len(ending)
    return _Reply(status, headers, pieces, ending,
                  f"multipart/byteranges; boundary={boundary}", length)


async def audio(request: web.Request) -> web.StreamResponse:
    """A sample's bytes: 200, 206 for one range, 206 multipart/byteranges for several, 304,
    416. Served from the descriptor served.py checked (never the path opened again), and a
    client that takes nothing for the server's write timeout is dropped (downloads.send).
    aiohttp's FileResponse does neither (it opens the path again and its sendfile waits for
    a stalled client forever), and compares If-Range with dates only.

    The catalog's facts of the file come from the record cache, on the loop; the answer is
    decided from them, and one hop to a stream thread opens the file, checks it against
    them and reads the first chunk: a 64 KB Range answer costs one hop, not three."""
    ctx = context(request)
    ref = sample_id(request)
    records = ctx.pool.records
    entry = records.served_file(ref)
    if entry is None:
        raise NotFound(f"no sample has id {ref} (samplemind ls shows the ids)")
    roots, token = records.served_roots()
    # The opened file must have the catalog's size and mtime (else FileChanged): an answer
    # decided from them is the answer its own stat would give.
    reply = None
    if entry.size is not None and entry.mtime_ns is not None:
        reply = _reply(request, entry.size, entry.mtime_ns, entry.path)
    first, count = reply.ahead() if reply is not None and request.method != "HEAD" else (0, 0)
    handle, stat, resolved, data = await ctx.pool.run_stream(open_ahead, entry, roots, first,
                                                             count)
    file = _SteppedFile(handle, ctx.pool.streams)
    try:
        if roots is None:
            records.keep_roots(token, resolved)
        if reply is None:
            reply = _reply(request, stat.st_size, stat.st_mtime_ns, entry.path)
            data = b""
        if reply.refusal is not None:
            return reply.refusal
        return await _send_reply(request, reply, file, data)
    finally:
        file.close()


class _SteppedFile:
    """An open file read a step at a time in a stream thread, and closed only when no step
    is running: the file is unbuffered, so nothing else keeps a close on the loop from
    landing before a read a cancelled handler left queued, whose descriptor number another
    open could have taken by then."""

    def __init__(self, handle: BinaryIO, executor: Executor) -> None:
        self.handle = handle
        self.executor = executor
        self._running: Future[Any] | None = None

    async def step(self, call: Callable[..., Any], *args: Any) -> Any:
        self._running = self.executor.submit(call, *args)
        return await asyncio.wrap_future(self._running)

    def close(self) -> None:
        running = self._running
        if running is not None and not running.done() and not running.cancel():
            running.add_done_callback(lambda _: self.handle.close())
        else:
            self.handle.close()


async def _send_reply(request: web.Request, reply: _Reply, file: _SteppedFile,
                      data: bytes) -> web.StreamResponse:
    """Send the ranges of a checked, open file; `data` is the first piece's start, read
    already. The rest is read a chunk per step in a stream thread."""
    ctx = context(request)
    handle = file.handle
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    response.content_type = reply.content_type
    response.content_length = reply.length
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    timeout = ctx.config.write_timeout
    for index, (head, first, last) in enumerate(reply.pieces):
        if head and not await send(request, response, head, timeout):
            return response
        remaining = last - first + 1
        if index == 0 and data:
            chunk = data
        else:
            await file.step(handle.seek, first)
            chunk = b""
        while remaining > 0:
            if not chunk:
                chunk = await file.step(handle.read, min(CHUNK, remaining))
                if not chunk:  # the file shrank under us: the client sees a short body
                    drop(request)
                    return response
            if not await send(request, response, chunk, timeout):
                return response  # the client left or stalled: stop reading
            remaining -= len(chunk)
            chunk = b""
    if reply.ending and not await send(request, response, reply.ending, timeout):
        return response
    await response.write_eof()
    return response


def _safe_filename(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:60]
    return cleaned or "samplemind-kit"


async def stream_zip(request: web.Request, name: str, pattern: str,
                     select: Callable[[Library], Sequence[int]],
                     query: str | None = None,
                     empty: str = "no samples match the query: nothing to export",
                     instrument: InstrumentSpec | None = None,
                     ) -> web.StreamResponse:
    """The zip of the samples select(library) names (ids, in zip order), sent as it is
    made. An error before the first byte (no samples, a bad query or pattern) is a JSON error.

    The ids are listed in a request thread; the zip is then made a bounded step at a time in
    the export pool (export.ZipStream), each step awaited, then sent from the loop with a
    write timeout: no thread waits on the client, a stalled client is dropped, and a client
    that leaves stops the work. Records are read RECORD_PAGE at a time as the zip reaches
    them, not all before the first byte. At most config.max_downloads stream at once."""
    ctx = context(request)
    loop = asyncio.get_running_loop()
    with request.app[DOWNLOADS].hold(download_owner(request)):
        ids, files, roots = await ctx.pool.run(_listing, select)
        if not ids:
            raise NotFound(empty)
        chosen = _paged_records(ctx.pool, ids)
        stream = ZipStream(chosen, pattern, opener=checked_opener(files, roots), query=query,
                           instrument=instrument)
        try:
            chunk: bytes | None = b""
            while not chunk:  # nothing is sent until there is something: errors stay JSON
                chunk = await loop.run_in_executor(ctx.pool.exports, next, stream, None)
                if chunk is None:
                    raise UsageError("the export produced nothing")
            response = web.StreamResponse(headers=_zip_headers(name))
            response.enable_chunked_encoding()
            await response.prepare(request)
            if request.method == "HEAD":
                return response  # checked, and no zip made for nobody
            while chunk is not None:
                if chunk and not await send(request, response, chunk, ctx.config.write_timeout):
                    return response  # the client left or stalled: the work stops here
                try:
                    chunk = await loop.run_in_executor(ctx.pool.exports, next, stream, None)
                except Exception:
                    # Half a zip is out: the client must see a cut transfer, not a valid end.
                    log.exception("export %s failed after its first byte", name)
                    drop(request)
                    return response
            await response.write_eof()
            return response
        finally:
            _close_later(loop, ctx.pool.exports, stream)


def _close_later(loop: asyncio.AbstractEventLoop, executor: Any, stream: ZipStream) -> None:
    """Stop a zip's work off the loop (close waits for a step still running)."""
    try:
        future = loop.run_in_executor(executor, stream.close)
    except RuntimeError:  # the server is shutting down: its pool is gone
        return
    future.add_done_callback(lambda done: done.cancelled() or done.exception())


def _listing(library: Library, select: Callable[[Library], Sequence[int]],
             ) -> tuple[list[int], dict[int, CataloguedFile], list[str]]:
    """(the ids still in the catalog, what it knows of their files, the scanned roots)."""
    ids = select(library)
    files = catalogued(library.scanned_files(list(ids)))
    return [i for i in ids if i in files], files, real_roots(library.roots())


def _paged_records(pool: Any, ids: list[int]) -> Iterator[dict[str, Any]]:
    """The records of ids, read a page at a time by whichever export thread asks (each has
    its own Library): memory holds a page, not a 100,000-record listing."""
    for start in range(0, len(ids), RECORD_PAGE):
        yield from exports.records_of(pool.library(), array("q", ids[start:start + RECORD_PAGE]))


def download_owner(request: web.Request) -> Any:
    """Whose download this is, for the per-owner bound: the account or token that logged in;
    with open access (no accounts: everyone is the admin "local") or no account layer, the
    client's address, so that one local process's stalled downloads do not use up
    everyone's."""
    owner = exports.owner_of(request)
    if owner is None or owner[0] == "local":
        return ("address", request.remote)
    return owner


def _zip_headers(name: str) -> dict[str, str]:
    return {"Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{name}.zip"',
            "Cache-Control": "no-store"}


def _matches(query: str) -> Callable[[Library], list[int]]:
    return lambda library: [sample.id for sample in library.ls(query or None)]


async def export_zip(request: web.Request) -> web.StreamResponse:
    refuse_cross_site(request, context(request).config)  # any page could <img> this GET
    args = query_args(request)
    query, pattern, name = args["q"] or "", args["pattern"], _safe_filename(args["name"])
    return await stream_zip(request, name, pattern, _matches(query), query)


async def create_export(request: web.Request) -> web.Response:
    """POST {"ids": [...]} or {"query": ...}, with name and pattern: checks the selection and
    answers 201 with the URL that streams its zip (see exports.py for the rules)."""
    wanted = exports.parse_request(checked_body(request), _safe_filename)

    def work(library: Library) -> tuple[array | None, int]:
        if wanted.ids is not None:
            ids: array | None = exports.resolve_ids(library, wanted.ids)
            count = len(ids)
        else:
            ids, count = None, exports.count_query(library, wanted.query or "")
        exports.check_pattern(library, wanted.pattern, ids, wanted.query)
        return ids, count

    ids, count = await context(request).pool.run(work)
    store = request.app[exports.EXPORTS]
    pending = store.add(exports.owner_of(request), ids=ids, query=wanted.query,
                        name=wanted.name, pattern=wanted.pattern, count=count,
                        instrument=wanted.instrument, round_robin=wanted.round_robin)
    url = f"/api/v1/exports/{pending.token}"
    response = json_now(request, {"ok": True, "url": url, "count": count,
                                  "expires_in": round(store.lifetime), "uses": store.max_uses,
                                  "name": f"{wanted.name}.zip"}, status=201)
    response.headers["Location"] = url
    return response


async def download_export(request: web.Request) -> web.StreamResponse:
    """GET the zip of a pending export (HEAD: its headers, without using it up)."""
    refuse_cross_site(request, context(request).config)
    store = request.app[exports.EXPORTS]
    pending = store.find(request.match_info["token"], exports.owner_of(request))
    if pending is None:
        raise NotFound("no such export: the link is unknown, was used up or has expired "
                       f"(links last {store.lifetime:g} s): export again")
    if request.method == "HEAD":
        return web.Response(headers=_zip_headers(pending.name))
    store.use(pending)
    ids, query = pending.ids, pending.query
    instrument = (spec_for(pending.instrument, pending.name, pending.round_robin)
                  if pending.instrument is not None else None)
    if ids is not None:
        return await stream_zip(request, pending.name, pending.pattern,
                                lambda library: list(ids),
                                empty="the selected samples are no longer in the catalog: "
                                      "nothing to export", instrument=instrument)
    return await stream_zip(request, pending.name, pending.pattern, _matches(query or ""), query,
                            instrument=instrument)


EXPORT_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "ids": sample_ids(exports.MAX_IDS),
    "query": {"type": "string", "maxLength": exports.MAX_QUERY},
    "name": {"type": "string", "maxLength": exports.MAX_NAME},
    "pattern": {"type": "string", "maxLength": exports.MAX_PATTERN},
    "as": {"type": "string", "enum": sorted(FORMATS),
           "description": "Also a sampler instrument of the kit in the zip "
                          "(README: Kits as instruments)."},
    "round_robin": {"type": "boolean",
                    "description": "With `as`: further sounds of one drum as round "
                                   "robins on its key."}},
    "oneOf": [{"required": ["ids"]}, {"required": ["query"]}]}

ROUTES = [
    Route("GET", "/api/v1/samples/{id}/audio", "sample_audio", audio, VIEWER,
          "The audio file itself; HTTP Range (206/416) so players can seek.", (ID,),
          produces="audio/*", responses={206: "Partial content (Range; several ranges as "
                                              "multipart/byteranges).",
                                         304: "Not modified (If-None-Match, "
                                              "If-Modified-Since).",
                                         403: "The file now leads outside the scanned folders.",
                                         404: "No such sample, or its file is gone.",
                                         409: "The file changed since it was scanned (size, "
                                              "mtime, or no longer a regular file): rescan.",
                                         416: "Range outside the file."}),
    Route("GET", "/api/v1/export", "export_zip", export_zip, VIEWER,
          "The samples a query selects as a zip kit (with a manifest), streamed.",
          (Param("q", "query", {"type": "string", "maxLength": exports.MAX_QUERY},
                 "The query ('' or absent: every sample)."),
           Param("pattern", "query", {"type": "string", "maxLength": 500,
                                      "default": DEFAULT_PATTERN}, "Naming pattern."),
           Param("name", "query", {"type": "string", "maxLength": 100,
                                   "default": "samplemind-kit"},
                 "Download file name (without .zip).")),
          produces="application/zip", responses={
              400: "A bad query or naming pattern (widths and precisions at most 255).",
              403: "Asked for by a page other than this server's own (Sec-Fetch-Site other "
                   "than same-origin or none, unless from an --allow-origin; or a foreign "
                   "Origin).",
              404: "No sample matches.",
              503: "Too many downloads streaming (Retry-After)."}),
    Route("POST", "/api/v1/exports", "export_create", create_export, VIEWER,
          "Prepare a zip of a selection of any size (ids, or a query); answers the URL that "
          f"streams it, valid for {exports.LIFETIME:g} s and {exports.MAX_USES} downloads, for "
          "the same user only.",
          body=EXPORT_BODY,
          responses={201: "Created: `{url, count, expires_in, uses, name}`; `Location` is the URL.",
                     404: "An id is not in the catalog, or no sample matches the query.",
                     413: "The body is over 1 MiB.", 415: "The body is not JSON."}),
    Route("GET", "/api/v1/exports/{token}", "export_download", download_export, VIEWER,
          "The zip of an export made with POST /api/v1/exports, streamed like GET /api/v1/export.",
          (Param("token", "path", {"type": "string"}, "The token of the export's URL.", True),),
          produces="application/zip",
          responses={404: "Unknown, used up or expired token, or another user's.",
                     403: "Asked for by a page other than this server's own (as for "
                          "GET /api/v1/export).",
                     503: "Too many downloads streaming (Retry-After)."}),
]
