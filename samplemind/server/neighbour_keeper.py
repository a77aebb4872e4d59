"""The server's table of every sample's nearest neighbours, kept current with the catalog.

GET .../similar for the usual question (one sample, all aspects equal, no filter, k up to
similarity.neighbours.TABLE_K) is answered on the event loop from the table: a lookup of ~20 us
instead of a search in a worker thread. Anything else, or a table not (yet) current, is
searched live as before, so an answer is never stale.

The table is built in a thread of its own, in the background: when the server starts, and
when the catalog has moved past the generation it was made for. A move that changed no
vector (a tag edit, a scan that found nothing new) only marks it current again, after one
indexed query; a change to the vectors patches it once the catalog has been quiet for a
second (a running scan would make every table stale at once): only the rows the moved
vectors can reach are searched again (similarity.neighbours.patch: 0.16 s for an added
file at 100k samples, 1-2 s at 1M), or, when many moved, it is built anew (7 s at 100k on
one core, 4-7 minutes at 1M). Meanwhile similar answers are searched live.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .libraries import LibraryPool

if TYPE_CHECKING:
    from ..similarity.neighbours import NeighbourTable

log = logging.getLogger("samplemind.server")

DEFAULT_TABLE_BYTES = 512 * 1024 * 1024  # about 1.8M samples; bigger libraries search live
RETRY_AFTER = 5.0  # seconds before trying again after a build failed
QUIET_SECONDS = 1.0  # the catalog must rest this long before a build (a scan is running)


class NeighbourKeeper:
    """Answers from the neighbour table when it is current; builds it in the background."""

    def __init__(self, pool: LibraryPool, max_bytes: int = DEFAULT_TABLE_BYTES) -> None:
        self.pool = pool
        self.max_bytes = max_bytes
        self.table: NeighbourTable | None = None
        self.hits = 0
        self.misses = 0
        self.builds = 0
        self.patches = 0  # tables brought up to date by recomputing the rows a change reached
        self.build_seconds = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failed_at = float("-inf")
        self._none_at: int | None = None  # the generation at which there was no table to build
        self._executor = ThreadPoolExecutor(max_workers=1,
                                            thread_name_prefix="samplemind-neighbours")

    def encoded(self, sample_id: int, k: int) -> list[tuple[int, bytes]] | None:
        """The k nearest samples (search.ranked's answer for the usual question) as (id,
        JSON of the hit's fields), or None when the table cannot answer now: the caller
        searches live then."""
        table = self.table
        if not self._current(table):
            self.misses += 1
            self.refresh()
            return None
        found = table.encoded(sample_id, k)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def _current(self, table: NeighbourTable | None) -> bool:
        """Whether the table answers for the catalog as it is now: made for its generation,
        from the index object the server searches (a rebuilt index, a new object, may order
        neighbours at equal distance differently)."""
        return (table is not None and table.generation == self.pool.records.generation()
                and table.index is self.pool.index.loaded)

    def refresh(self) -> None:
        """Bring the table up to the catalog in the background (one refresh at a time)."""
        if (self._closing or self.max_bytes <= 0
                or time.monotonic() - self._failed_at < RETRY_AFTER
                or self._none_at == self.pool.records.generation()):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._closing:
                table = self.table
                if self._current(table):
                    return
                # A move that changed no vector costs one query (an index rebuilt as a new
                # object at the same generation, `samplemind index rebuild`, needs a build).
                if table is not None and table.index is self.pool.index.loaded:
                    still = await loop.run_in_executor(self._executor, self._still_right, table)
                    if still is not None:
                        self.table = dataclasses.replace(table, generation=still)
                        continue
                # Vectors changed: build once the catalog is quiet. During a scan every
                # commit moves it, and a table built in between would be stale at once.
                await self._quiet()
                if self._closing:
                    return
                seen = self.pool.records.generation()
                self.table = await loop.run_in_executor(self._executor, self._current_table)
                if self.table is None:  # nothing to build (no vectors, or too many for the
                    self._none_at = seen  # budget): not asked again until the catalog moves
                    return
        except Exception:  # a damaged index or a busy catalog: similar searches live
            self._failed_at = time.monotonic()
            log.exception("could not build the table of nearest neighbours")

    async def _quiet(self) -> None:
        """Return once the catalog generation has not moved for QUIET_SECONDS."""
        loop = asyncio.get_running_loop()
        last, since = self.pool.records.generation(), loop.time()
        while not self._closing and loop.time() - since < QUIET_SECONDS:
            await asyncio.sleep(QUIET_SECONDS / 4)
            now = self.pool.records.generation()
            if now != last:
                last, since = now, loop.time()

    def _still_right(self, table: NeighbourTable) -> int | None:
        """(Worker thread.) The catalog generation the table is right for when no vector
        was added, changed or removed since the one it was made for; else None."""
        return self.pool.library().changes.vectors_unchanged_since(table.generation)

    def _current_table(self) -> NeighbourTable | None:
        """(Worker thread.) The table for the index as the catalog is now."""
        previous = self.table
        started = time.perf_counter()
        table = self.pool.library().neighbour_table(previous, max_bytes=self.max_bytes,
                                                    should_stop=lambda: self._closing)
        if table is not None and (previous is None or table.ids is not previous.ids):
            seconds = round(time.perf_counter() - started, 3)
            if table.computed < len(table.ids):  # patched: only the rows the change reached
                self.patches += 1
                log.info("table of nearest neighbours patched: %d of %d rows in %.2f s",
                         table.computed, len(table.ids), seconds)
            else:
                self.builds += 1
                self.build_seconds = seconds
                log.info("table of nearest neighbours built: %d samples in %.1f s",
                         len(table.ids), seconds)
        return table

    def stats(self) -> dict[str, float]:
        """Figures for /metrics."""
        table = self.table
        return {"samples": 0 if table is None else len(table.ids),
                "bytes": 0 if table is None else table.nbytes,
                "hits": self.hits, "misses": self.misses, "builds": self.builds,
                "patches": self.patches,
                "build_seconds": self.build_seconds}

    async def close(self) -> None:
        """Stop a build that is running and wait for its thread."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
