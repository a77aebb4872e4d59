"""Query pages and library figures answered like one-sample answers.

A team browsing the web UI mostly sends the same few questions: a filter's first page with its
total, the next pages, the figures beside the list (``/stats``: counts by type, category and
format; ``/tags``: every tag and how many samples carry it). Each used to be a worker thread
running SQL and building and encoding every record (0.1-1 s under load at 100k samples).

``QueryCache``: a page is the ids SQLite finds for the query (``Library.query_ids``: only the
columns the filter and order name are read, usually from one index), spliced on the event
loop from the records the record cache holds encoded (record_cache.py). The answer, its total
included, is kept for as long as the catalog stays at that generation (any committed change,
by any process, moves it: the record cache looks at most once a millisecond). Identical
questions asked while one is being answered wait for that answer instead of running again.
Queries that could answer differently at one generation are never kept: ``sort:random``, and
saved collections (``@name``: saving one does not move the generation).

The facets of a query (``/facets?q=``: Library.facets, counting the matches) are kept the same
way, by query, for as long as the catalog stays at the generation they were counted at.

``FacetKeeper``: the answers of ``/stats`` and ``/tags`` (Library.stats and Library.tags,
read from the figures the catalog's triggers keep whoever writes: migration m018), encoded
once per generation.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..models import versioned
from .http import Body, encode

if TYPE_CHECKING:
    from ..library import Library
    from .libraries import LibraryPool

MAX_PAGE_BYTES = 64 * 1024 * 1024  # encoded pages kept (a 100-sample page is ~150 KB)
MAX_FACET_ANSWERS = 256  # facets of queries kept (a few KB each)
MAX_READS_ON_LOOP = 16  # uncached records a page may read on the loop (~30 us each)
FULL_RELOAD_ABOVE = 50_000  # changed samples above which the figures are read afresh
MAX_ARRAY_ID = 50_000_000  # ids index arrays: past this (ids are not dense), count in SQL


class _SparseIds(Exception):
    """An id too large to index an array by: the figures are counted by SQL instead."""


class QueryCache:
    """Encoded query pages by (query, offset, limit, total), current with the catalog
    generation. Loop thread only."""

    def __init__(self, pool: LibraryPool, max_bytes: int = MAX_PAGE_BYTES) -> None:
        self.pool = pool
        self.max_bytes = max_bytes
        self.bytes = 0
        self.pages: OrderedDict[tuple[str, int, int, bool], Body] = OrderedDict()
        self.totals: dict[str, int] = {}  # query -> how many it matches, at self.generation
        self.generation = -1
        self.hits = 0
        self.misses = 0
        # (generation, key) -> the answer being made (identical questions share it)
        self._pending: dict[tuple[int, tuple[str, int, int, bool]], asyncio.Task[Body]] = {}
        self.facet_answers: OrderedDict[str, Body] = OrderedDict()  # query -> /facets body
        self._pending_facets: dict[tuple[int, str], asyncio.Task[Body]] = {}

    def _current(self) -> int:
        generation = self.pool.records.generation()
        if generation != self.generation:
            self.pages.clear()
            self.totals.clear()
            self.facet_answers.clear()
            self.bytes = 0
            self.generation = generation
        return generation

    async def page(self, query: str | None, offset: int, limit: int, total: bool,
                   cursor: Callable[[int], str]) -> Body:
        """The encoded page: {"schema_version", "samples", "count", "next_cursor"[, "total"]},
        as Library.ls and Library.count would make it. cursor(offset) encodes a next_cursor."""
        text = query or ""
        return await self._answer(self.pages, self._pending, (text, offset, limit, total), text,
                                  lambda: self._build(text, offset, limit, total, cursor))

    async def _answer(self, kept: OrderedDict[Any, Body], pending: dict[tuple[int, Any], asyncio.Task[Body]],
                      key: Any, text: str, make: Callable[[], Awaitable[Body]]) -> Body:
        """The answer kept under key at the catalog's generation, else make()'s, which
        identical questions asked meanwhile at the same generation share (unless the query
        is never kept): one asked after a write does not get an answer begun before it."""
        generation = self._current()
        body = kept.get(key)
        if body is not None:
            self.hits += 1
            kept.move_to_end(key)
            return body
        self.misses += 1
        if not _keepable(text):
            return await make()
        return await _single_flight(pending, (generation, key), make)

    async def _build(self, text: str, offset: int, limit: int, total: bool,
                     cursor: Callable[[int], str]) -> Body:
        known = self.totals.get(text) if total else None
        generation, ids, counted = await self.pool.run(
            _query_ids, text or None, offset, limit + 1, total and known is None)
        more = len(ids) > limit  # one extra id says whether there is a next page
        ids = ids[:limit]
        bodies = await self._records(ids, generation)
        tail: dict[str, Any] = {"count": len(bodies),
                                "next_cursor": cursor(offset + limit) if more else None}
        if total:
            tail["total"] = known if counted is None else counted
        head = encode(versioned(samples=[]))[:-2]  # b'{"schema_version":1,"samples":['
        end = b"]," + encode(tail)[1:]
        raw = head + b",".join(body.raw for body in bodies) + end
        # The ETag hashes the records' ETags and the tail: as specific, far fewer bytes.
        body = Body.from_raw(raw, etag_source=b"\n".join(
            [*(b.etag.encode() for b in bodies), end]))
        if _keepable(text) and generation == self._current():
            if counted is not None:
                self.totals[text] = counted
            self._keep((text, offset, limit, total), body)
        return body

    async def facets(self, query: str | None) -> Body:
        """The encoded answer of GET /api/v1/facets?q= (Library.facets), kept per query while
        the catalog stays at the generation it was counted at: counting a query's matches
        takes 0.3-0.7 s at a million samples, and a team asks the same filters again."""
        text = query or ""
        return await self._answer(self.facet_answers, self._pending_facets, text, text,
                                  lambda: self._count_facets(text))

    async def _count_facets(self, text: str) -> Body:
        generation, body = await self.pool.run(_facets, text or None)
        if _keepable(text) and generation == self._current():
            self.facet_answers[text] = body
            while len(self.facet_answers) > MAX_FACET_ANSWERS:
                self.facet_answers.popitem(last=False)
        return body

    async def _records(self, ids: list[int], generation: int) -> list[Body]:
        """The encoded records of ids, in order, from the record cache; those it lacks read
        on the loop when few, else in a worker thread (and offered to the cache). A sample
        removed since the ids were read is left out, as a listing would."""
        records = self.pool.records
        found = {sample_id: body for sample_id in ids
                 if (body := records.entries.get(sample_id)) is not None}
        missing = [sample_id for sample_id in ids if sample_id not in found]
        if len(missing) > MAX_READS_ON_LOOP:
            read = await self.pool.run(_read_records, missing)
            records.add_read_elsewhere(read, generation)
            found.update(read)
            missing = []
        for sample_id in missing:
            body = records.body(sample_id)
            if body is not None:
                found[sample_id] = body
        return [found[sample_id] for sample_id in ids if sample_id in found]

    def _keep(self, key: tuple[str, int, int, bool], body: Body) -> None:
        size = len(body.raw)
        if size > self.max_bytes:
            return
        old = self.pages.pop(key, None)
        if old is not None:
            self.bytes -= len(old.raw)
        self.pages[key] = body
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, dropped = self.pages.popitem(last=False)
            self.bytes -= len(dropped.raw)

    def stats(self) -> dict[str, int]:
        """Figures for /metrics."""
        return {"pages": len(self.pages), "facets": len(self.facet_answers), "bytes": self.bytes,
                "hits": self.hits, "misses": self.misses}


def _keepable(query: str) -> bool:
    """False for queries whose answer may differ at one generation: sort:random (every
    time), saved collections (saved without moving the generation)."""
    lowered = query.lower()
    return "@" not in query and "random" not in lowered


def _query_ids(library: Library, query: str | None, offset: int, limit: int,
               total: bool) -> tuple[int, list[int], int | None]:
    return library.query_ids(query, limit=limit, offset=offset, total=total)


def _facets(library: Library, query: str | None) -> tuple[int, Body]:
    """In a worker thread: the facets of a query and the generation they were counted at."""
    generation, facets = library.facets_at(query)
    return generation, Body.kept(facets)


def _read_records(library: Library, ids: list[int]) -> list[tuple[int, Body]]:
    return [(record["id"], Body.kept(record)) for record in library.records_by_id(ids)]


async def _single_flight(pending: dict[Any, asyncio.Task[Any]], key: Any,
                         make: Callable[[], Awaitable[Any]]) -> Any:
    """make()'s result; callers asking for the same key meanwhile share it. The work is a
    task of its own: a caller that goes away (a closed connection) cancels only its wait."""
    task = pending.get(key)
    if task is None:
        task = pending[key] = asyncio.ensure_future(make())
        task.add_done_callback(lambda done: pending.pop(key, None) if pending.get(key) is done
                               else None)
    return await asyncio.shield(task)


# -- library figures ---------------------------------------------------------------------------


class FacetKeeper:
    """The encoded answers of /stats and /tags at the catalog's generation: Library.stats()
    and Library.tags(), read from the figures the catalog's triggers keep (migration m018,
    a few small rows whatever the library's size) once per generation. Loop thread only;
    the reads run in a worker thread."""

    def __init__(self, pool: LibraryPool) -> None:
        self.pool = pool
        self.generation = -1
        self.stats_body: Body | None = None
        self.tags_body: Body | None = None
        self.updates = 0
        self._pending: dict[str, asyncio.Task[None]] = {}

    async def stats(self) -> Body:
        """The encoded answer of GET /api/v1/stats."""
        await self._current()
        assert self.stats_body is not None
        return self.stats_body

    async def tags(self) -> Body:
        """The encoded answer of GET /api/v1/tags."""
        await self._current()
        assert self.tags_body is not None
        return self.tags_body

    async def _current(self) -> None:
        # A read already under way may have started before a write this request follows:
        # a few rounds, then the answer stands (a scan commits all the time).
        for _ in range(3):
            if self.pool.records.generation() == self.generation and self.stats_body is not None:
                return
            await _single_flight(self._pending, "update", self._update)

    async def _update(self) -> None:
        generation, stats, tags = await self.pool.run(_figures)
        self.generation, self.stats_body, self.tags_body = generation, stats, tags
        self.updates += 1

    def stats_figures(self) -> dict[str, int]:
        """Figures for /metrics."""
        return {"updates": self.updates}


def _figures(library: Library) -> tuple[int, Body, Body]:
    """In a worker thread: both answers, kept as of the stats' generation (tags read a moment
    later are as new or newer; a write in between moves the generation, so the next request
    reads both again)."""
    stats = library.stats()
    tags = versioned(tags=library.tags())
    return stats["generation"], Body.kept(stats), Body.kept(tags)
