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

``FacetKeeper``: the figures behind ``/stats`` and ``/tags``, kept per sample in arrays
(type, category, format, duration, size, tags) and brought up to date from the change feed
(``ChangeFeed.since``, ``ChangeFeed.facet_rows`` of the samples that changed), so a tag, a
correction or a scan's batch costs a recount of the samples it touched, not of the library.
Its answers are encoded once per generation.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..models import versioned
from .http import Body, encode

if TYPE_CHECKING:
    from ..library import Library
    from .libraries import LibraryPool

MAX_PAGE_BYTES = 64 * 1024 * 1024  # encoded pages kept (a 100-sample page is ~150 KB)
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
        self._pending: dict[tuple[str, int, int, bool], asyncio.Task[Body]] = {}

    def _current(self) -> int:
        generation = self.pool.records.generation()
        if generation != self.generation:
            self.pages.clear()
            self.totals.clear()
            self.bytes = 0
            self.generation = generation
        return generation

    async def page(self, query: str | None, offset: int, limit: int, total: bool,
                   cursor: Callable[[int], str]) -> Body:
        """The encoded page: {"schema_version", "samples", "count", "next_cursor"[, "total"]},
        as Library.ls and Library.count would make it. cursor(offset) encodes a next_cursor."""
        text = query or ""
        self._current()
        key = (text, offset, limit, total)
        body = self.pages.get(key)
        if body is not None:
            self.hits += 1
            self.pages.move_to_end(key)
            return body
        self.misses += 1
        if not _keepable(text):
            return await self._build(text, offset, limit, total, cursor)
        return await _single_flight(self._pending, key,
                                    lambda: self._build(text, offset, limit, total, cursor))

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
        return {"pages": len(self.pages), "bytes": self.bytes, "hits": self.hits,
                "misses": self.misses}


def _keepable(query: str) -> bool:
    """False for queries whose answer may differ at one generation: sort:random (every
    time), saved collections (saved without moving the generation)."""
    lowered = query.lower()
    return "@" not in query and "random" not in lowered


def _query_ids(library: Library, query: str | None, offset: int, limit: int,
               total: bool) -> tuple[int, list[int], int | None]:
    return library.query_ids(query, limit=limit, offset=offset, total=total)


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


class _Codes:
    """Text values as small integers (None reads as "unknown", as Library.stats counts it)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}

    def code(self, value: Any) -> int:
        name = "unknown" if value is None else str(value)
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code


class Figures:
    """The figures of every sample, by id: what /stats and /tags count. Updated in one worker
    thread at a time (FacetKeeper), read by nobody else."""

    COLUMNS = ("type", "category", "format")

    def __init__(self) -> None:
        self.generation = -1
        self.present = np.zeros(0, bool)
        self.codes = {name: _Codes() for name in self.COLUMNS}
        self.coded = {name: np.zeros(0, np.int32) for name in self.COLUMNS}
        self.duration = np.zeros(0, np.float64)
        self.size = np.zeros(0, np.int64)
        self.tags: dict[int, frozenset[tuple[str, str]]] = {}
        self.tag_samples: Counter[str] = Counter()
        self.tag_rows: Counter[tuple[str, str]] = Counter()

    def _grow(self, high: int) -> None:
        if high < len(self.present):
            return
        if high > MAX_ARRAY_ID:
            raise _SparseIds(high)
        size = max(high + 1, int(len(self.present) * 1.5) + 1024)
        self.present = np.concatenate([self.present, np.zeros(size - len(self.present), bool)])
        for name in self.COLUMNS:
            old = self.coded[name]
            self.coded[name] = np.concatenate([old, np.zeros(size - len(old), np.int32)])
        self.duration = np.concatenate([self.duration, np.full(size - len(self.duration), np.nan)])
        self.size = np.concatenate([self.size, np.zeros(size - len(self.size), np.int64)])

    def _set_tags(self, sample_id: int, pairs: frozenset[tuple[str, str]]) -> None:
        old = self.tags.pop(sample_id, frozenset())
        self.tag_rows.subtract(old)
        self.tag_samples.subtract({tag for tag, _ in old})
        if pairs:
            self.tags[sample_id] = pairs
            self.tag_rows.update(pairs)
            self.tag_samples.update({tag for tag, _ in pairs})

    def apply(self, generation: int, rows: list[tuple[Any, ...]], tags: list[tuple[int, str, str]],
              changed: list[int], removed: list[int]) -> None:
        """Recount the samples in changed (their rows and tags as they are now: a changed id
        without a row is gone) and removed."""
        if changed or removed:
            self._grow(max([*changed, *removed]))
        for sample_id in (*changed, *removed):
            self.present[sample_id] = False
            self._set_tags(sample_id, frozenset())
        self._rows(rows)
        by_id: dict[int, set[tuple[str, str]]] = {}
        for sample_id, tag, source in tags:
            by_id.setdefault(sample_id, set()).add((tag, source))
        for sample_id, pairs in by_id.items():
            if self.present[sample_id]:
                self._set_tags(sample_id, frozenset(pairs))
        self.tag_rows = +self.tag_rows  # drop the zeros
        self.tag_samples = +self.tag_samples
        self.generation = generation

    def _rows(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self._grow(max(row[0] for row in rows))
        ids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
        self.present[ids] = True
        for position, name in enumerate(self.COLUMNS, start=1):
            code = self.codes[name].code
            self.coded[name][ids] = np.fromiter((code(row[position]) for row in rows), np.int32,
                                                len(rows))
        self.duration[ids] = np.fromiter((np.nan if row[4] is None else row[4] for row in rows),
                                         np.float64, len(rows))
        self.size[ids] = np.fromiter((row[5] or 0 for row in rows), np.int64, len(rows))

    def grouped(self, name: str) -> dict[str, int]:
        """Samples by value, most first, then by name (Library.stats's order)."""
        counts = np.bincount(self.coded[name][self.present], minlength=len(self.codes[name].names))
        names = self.codes[name].names
        pairs = [(names[code], int(count)) for code, count in enumerate(counts) if count]
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        return dict(pairs)

    def stats(self, failed: int, roots: list[str], catalog: str) -> dict[str, Any]:
        """Library.stats()'s answer."""
        durations = self.duration[self.present]
        return versioned({
            "samples": int(self.present.sum()),
            "duration": round(math.fsum(durations[~np.isnan(durations)].tolist()), 3),
            "size": int(self.size[self.present].sum()),
            "failed": failed,
            "by_type": self.grouped("type"),
            "by_category": self.grouped("category"),
            "by_format": self.grouped("format"),
            "roots": roots,
            "generation": self.generation,
            "catalog": catalog,
        })

    def tag_list(self) -> list[dict[str, Any]]:
        """Library.tags()'s answer: most used first, then by name."""
        sources: dict[str, list[str]] = {}
        for tag, source in self.tag_rows:
            sources.setdefault(tag, []).append(source)
        ordered = sorted(self.tag_samples.items(), key=lambda pair: (-pair[1], pair[0]))
        return [{"tag": tag, "count": count, "sources": sorted(sources[tag])}
                for tag, count in ordered]


class FacetKeeper:
    """The encoded answers of /stats and /tags at the catalog's generation, kept current from
    the change feed. Loop thread only; the recounts run in a worker thread, one at a time."""

    def __init__(self, pool: LibraryPool) -> None:
        self.pool = pool
        self.figures = Figures()
        self.generation = -1
        self.stats_body: Body | None = None
        self.tags_body: Body | None = None
        self.full_reads = 0
        self.updates = 0
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._lock = threading.Lock()  # one recount at a time, even past a cancelled wait

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
        # An update already under way may have started before a write this request follows:
        # a few rounds, then the answer stands (a scan commits all the time).
        for _ in range(3):
            if self.pool.records.generation() == self.generation and self.stats_body is not None:
                return
            await _single_flight(self._pending, "update", self._update)

    async def _update(self) -> None:
        generation, stats, tags, full = await self.pool.run(self._recount)
        self.generation, self.stats_body, self.tags_body = generation, stats, tags
        self.full_reads += full
        self.updates += 1

    def _recount(self, library: Library) -> tuple[int, Body, Body, bool]:
        """In a worker thread: bring the figures up to the catalog's generation and encode
        both answers."""
        with self._lock:
            try:
                return self._recount_locked(library)
            except _SparseIds:
                self.figures = Figures()  # start afresh next time
                generation = library.changes.generation()
                return (generation, Body.kept({**library.stats(), "generation": generation}),
                        Body.kept(versioned(tags=library.tags())),
                        True)

    def _recount_locked(self, library: Library) -> tuple[int, Body, Body, bool]:
        figures, feed = self.figures, library.changes
        full = figures.generation < 0
        if not full:
            # Counted as of `since`'s generation: rows read a moment later are as new or
            # newer, and changes in between are named again by the next since().
            at, changed, removed, everyone = feed.since(figures.generation)
            full = everyone is not None or len(changed) + len(removed) > FULL_RELOAD_ABOVE
        if full:
            figures = self.figures = Figures()
            generation, rows, tags = feed.facet_rows()
            figures.apply(generation, rows, tags, [], [])
        else:
            _, rows, tags = feed.facet_rows(changed)
            figures.apply(at, rows, tags, changed, removed)
        _, failed, roots = feed.library_figures()
        stats = Body.kept(figures.stats(failed, roots, str(library.paths.catalog)))
        tag_list = Body.kept(versioned(tags=figures.tag_list()))
        return figures.generation, stats, tag_list, full

    def stats_figures(self) -> dict[str, int]:
        """Figures for /metrics."""
        return {"updates": self.updates, "full_reads": self.full_reads}
