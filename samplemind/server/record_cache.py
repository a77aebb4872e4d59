"""One-sample answers served from the event loop, from a cache the catalog keeps honest.

``GET /api/v1/samples/{id}`` is the commonest request (a browser shows one sample per
click, a script walks ids). Handing each to a worker thread cost ten times the lookup
itself under load (the hop, the GIL hand-offs), so it is answered on the loop: a
primary-key read on a connection of its own, about 20 us (SQLite in WAL mode never makes
a reader wait for a writer), and the encoded answer kept in an LRU cache bounded in
bytes. A cached answer is the bytes the client gets, ETag included.

It reads the catalog only through the two doors (ARCHITECTURE.md): a ``Library`` of its own
(records by id; the loop thread is its only user) and that library's change feed. The cache
does not serve stale answers: the feed's ``data_version`` says whether any other connection
has committed since the last look, in this process or another one (a ``samplemind scan`` in a
terminal). When it has, ``ChangeFeed.since`` names the samples whose row, tags or overrides
changed, and the ones removed; those entries go. If removals were pruned past our position,
everything goes. The look costs a few us,
a fifth of a cached answer, so it is asked at most once a millisecond, and at once after
any work of the server's own threads has finished (``mark_dirty``): a client that sees
its write answered always reads it back.

At start the cache is filled in the background, newest samples first, until it is full
(``warm_up``): the first clicks of the day are as quick as the later ones.

The audio route reads two more things here, kept current the same way: what the catalog
recorded of a sample's file (path, root, size, mtime: what served.py checks the opened file
against), and the scanned roots with links resolved (resolved in a stream thread, never on
the loop: a root on a network mount may take its time). Reading both in a request thread
for each audio request cost two SQLite queries, a thread hop and a realpath per root.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..served import CataloguedFile, catalogued
from .http import Body, encode

if TYPE_CHECKING:
    from ..library import Library
    from .libraries import LibraryPool

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024  # ~150k one-sample answers of 1.4 KB
ENTRY_OVERHEAD = 300  # bytes per entry besides the body: ETag, objects, dict slot
WARM_BATCH = 2000  # records read per warm-up step
SYNC_INTERVAL = 0.001  # seconds between looks at the catalog's data version
TOUCH_ABOVE = 0.9  # hits move up the LRU order once the cache is this full
MAX_READS_ON_LOOP = 16  # uncached records a similar answer may read on the loop (~30 us each)
MAX_SERVED_FILES = 65_536  # scan-time file facts kept for the audio route (~250 bytes each)


class RecordCache:
    """Encoded sample records by id, current with the catalog. Loop thread only."""

    def __init__(self, library: Library, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.library = library  # this cache's own: the loop thread is its only user
        self.feed = library.changes
        self.max_bytes = max_bytes
        self._touch_above = max_bytes * TOUCH_ABOVE
        self.entries: OrderedDict[int, Body] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.invalidations = 0  # entries dropped because their sample changed
        self._data_version = self.feed.data_version()
        self._generation = self.feed.generation()
        self._synced_at = time.monotonic()
        self._dirty = False
        self.files: OrderedDict[int, CataloguedFile] = OrderedDict()  # the audio route's
        self._real_roots: list[str] | None = None  # None: to be resolved again

    def mark_dirty(self) -> None:
        """Look at the catalog before the next answer (the server's own threads call this,
        through the loop, when their work is done: it may have written)."""
        self._dirty = True

    def body(self, sample_id: int) -> Body | None:
        """The encoded record of one sample, or None when there is no such sample."""
        self._sync()
        body = self.entries.get(sample_id)
        if body is not None:
            if self.bytes > self._touch_above:  # the LRU order matters only near full
                self.entries.move_to_end(sample_id)  # (and costs 2 us of a 55 us answer)
            self.hits += 1
            return body
        self.misses += 1
        return self._read([sample_id]).get(sample_id)

    def _read(self, sample_ids: list[int]) -> dict[int, Body]:
        """Read, encode and cache the records of these samples (one query for all of them:
        at 1M samples a similar answer's hits are mostly not cached, and a query per hit
        cost half again as much). Samples no longer in the catalog are left out."""
        found = {}
        for record in self.library.records_by_id(sample_ids):
            body = found[record["id"]] = Body.kept(record)
            if self.max_bytes > 0:
                self.entries[record["id"]] = body
                self.bytes += len(body.raw) + ENTRY_OVERHEAD
        while self.bytes > self.max_bytes and self.entries:
            _, dropped = self.entries.popitem(last=False)
            self.bytes -= len(dropped.raw) + ENTRY_OVERHEAD
        return found

    def hits_body(self, header: dict[str, Any], hits: list[tuple[int, bytes]]) -> Body | None:
        """A similar answer, {**header, "hits": [record + score fields, ...]}, spliced from
        the cached records' bytes (what GET .../similar spent most of its time on was
        reading and encoding the hits' records). hits: (id, JSON of Ranked.fields()).
        None when more than MAX_READS_ON_LOOP of them would have to be read first: the
        caller answers from a worker thread then. A hit whose sample is gone by now is left
        out, as Library.similar does."""
        self._sync()
        entries = self.entries
        bodies = [entries.get(sample_id) for sample_id, _ in hits]
        missing = [sample_id for (sample_id, _), body in zip(hits, bodies) if body is None]
        if len(missing) > MAX_READS_ON_LOOP:
            return None
        if missing:
            self.misses += len(missing)
            read = self._read(missing)
            bodies = [read.get(sample_id) if body is None else body
                      for (sample_id, _), body in zip(hits, bodies)]
        head = encode(header)
        # The record without its closing "}", then "," and the hit's fields without their
        # opening "{"; joined once at the end. (The records are not moved up the LRU
        # order: the one-sample answers decide what stays.)
        parts = [head[:-1], b',"hits":[']
        tags = [head]  # what the ETag is made of: each record's ETag and the hit's fields
        for (_, fields), body in zip(hits, bodies):
            if body is None:  # the sample is gone
                continue
            parts += (body.raw[:-1], b",", fields[1:], b",")
            tags += (body.etag.encode(), fields)
        if len(parts) > 2:
            parts.pop()  # the last ","
        parts.append(b"]}")
        # The ETag hashes the records' ETags, not their bytes again: as specific, a tenth
        # of the bytes to hash.
        return Body.from_raw(b"".join(parts), etag_source=b"\n".join(tags))

    def generation(self) -> int:
        """The catalog generation as of the last look (at most SYNC_INTERVAL ago, and
        after the server's own writes at once)."""
        self._sync()
        return self._generation

    def committed(self) -> int:
        """A number that moves whenever any connection, of any process, commits (the feed's
        data_version: a read of the WAL's shared memory while none has): the change
        watcher's quick look, on the loop like every use of this cache."""
        return self.feed.data_version()

    def full(self) -> bool:
        """True when nothing more fits."""
        return self.bytes >= self.max_bytes

    def add_read_elsewhere(self, bodies: list[tuple[int, Body]], generation: int) -> int:
        """Add answers another thread read at catalog `generation`, behind every entry
        already here (they were not asked for yet); none when the catalog has moved since,
        as some may be stale. Returns how many were added."""
        self._sync()
        if generation != self._generation:
            return 0
        added = 0
        for sample_id, body in bodies:
            size = len(body.raw) + ENTRY_OVERHEAD
            if self.bytes + size > self.max_bytes:
                break
            if sample_id in self.entries:
                continue
            self.entries[sample_id] = body
            self.entries.move_to_end(sample_id, last=False)
            self.bytes += size
            added += 1
        return added

    def served_file(self, sample_id: int) -> CataloguedFile | None:
        """What the catalog recorded of one sample's file (served.py checks the opened file
        against it), or None when there is no such sample: a primary-key read on a miss."""
        self._sync()
        entry = self.files.get(sample_id)
        if entry is not None:
            self.files.move_to_end(sample_id)  # least recently served goes first
        else:
            entry = catalogued(self.library.scanned_files([sample_id])).get(sample_id)
            if entry is None:
                return None
            self.files[sample_id] = entry
            if len(self.files) > MAX_SERVED_FILES:
                self.files.popitem(last=False)
        return entry

    def served_roots(self) -> tuple[list[str] | None, int]:
        """(the scanned roots with links resolved, or None when they must be resolved again,
        and the token keep_roots wants with them). Any commit may have changed the roots."""
        self._sync()
        return self._real_roots, self._data_version

    def keep_roots(self, token: int, roots: list[str]) -> None:
        """Keep roots resolved by a stream thread, unless a commit came since served_roots
        handed out `token`."""
        self._sync()
        if token == self._data_version:
            self._real_roots = roots

    def stats(self) -> dict[str, int]:
        """Figures for /metrics."""
        return {"entries": len(self.entries), "bytes": self.bytes, "hits": self.hits,
                "misses": self.misses, "invalidations": self.invalidations}

    def _sync(self) -> None:
        """Drop the entries of samples changed since the last look."""
        now = time.monotonic()
        if not self._dirty and now - self._synced_at < SYNC_INTERVAL:
            return
        self._dirty = False
        self._synced_at = now
        version = self.feed.data_version()
        if version == self._data_version:
            return
        self._data_version = version
        self._real_roots = None
        if not self.entries and not self.files:
            self._generation = self.feed.generation()
            return
        generation, changed, removed, everyone = self.feed.since(self._generation)
        self._generation = generation
        if everyone is not None:  # removals past our position were pruned: cannot tell
            self.invalidations += len(self.entries)
            self.entries.clear()
            self.files.clear()
            self.bytes = 0
            return
        for sample_id in (*changed, *removed):
            self.files.pop(sample_id, None)
            body = self.entries.pop(sample_id, None)
            if body is not None:
                self.bytes -= len(body.raw) + ENTRY_OVERHEAD
                self.invalidations += 1


def _read_batch(library: Library, below: int | None) -> tuple[int, list[tuple[int, Body]]]:
    """(generation, encoded records) of the next WARM_BATCH samples by id, newest first. The
    generation is read first: records read after it are at least as new, and the cache takes
    them only while the catalog is still at that generation."""
    generation = library.changes.generation()
    query = f"sort:id- limit:{WARM_BATCH}" + ("" if below is None else f" id:..{below - 1}")
    return generation, [(sample.id, Body.kept(sample.record)) for sample in library.ls(query)]


async def warm_up(pool: LibraryPool) -> int:
    """Fill the cache from the catalog, newest samples first, reading and encoding in a
    background thread; stops when full, at the end, or when the catalog is busy changing
    (a scan is running: its samples are read on demand). Returns how many were added."""
    cache = pool.records
    below: int | None = None
    added = 0
    while cache.max_bytes > 0 and not cache.full():
        generation, bodies = await pool.run_stream(_read_batch, below)
        if not bodies:
            break
        count = cache.add_read_elsewhere(bodies, generation)
        if count == 0 and not cache.full():
            break  # the catalog moved while we read
        added += count
        below = bodies[-1][0]
    return added
