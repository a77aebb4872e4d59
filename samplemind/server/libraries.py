"""Library instances for the server's worker threads.

``Library`` (its SQLite connection) is not thread-safe, so each executor thread gets
its own, opened on the same home on first use. They all share one vector index manager
(``Library.shared_index``): the FAISS index is loaded once per process, not once per
thread; its catalog connection is used by one thread at a time, while the searches
themselves run concurrently under the index's own reader/writer lock.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..config import resolve_paths
from ..library import Library
from .query_cache import FacetKeeper, QueryCache
from .record_cache import DEFAULT_CACHE_BYTES, RecordCache

T = TypeVar("T")


class LibraryPool:
    """Runs Library calls off the event loop, each thread with its own Library.

    Executors: ``run`` for request work (queries, similarity), sized for the cores;
    ``run_job`` for long jobs (scans, upload analysis), one at a time, since the catalog has
    one writer anyway and a scan already fills the cores with its worker processes;
    ``streams`` for file reads and writes of audio and uploads, a chunk per call; and
    ``exports`` for the steps of zip downloads. Zips have their own pool so that exports
    and audio or uploads cannot starve each other; no pool thread ever waits on a client
    (each call is one bounded step, the wait for the client happens on the event loop).
    """

    def __init__(self, home: str | os.PathLike[str] | None, *, threads: int = 4,
                 jobs: int | None = None, record_cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.home = home
        self.jobs = jobs
        self.paths = resolve_paths(home)
        # Opening the first Library creates the folders and applies migrations, once.
        self._first = Library(home, jobs=jobs)
        self.index = Library.shared_index(home)
        # Reads answered on the event loop itself (see record_cache.py), through a Library
        # of their own; query pages and library figures are spliced from it (query_cache.py).
        self.records = RecordCache(Library(home, jobs=jobs), record_cache_bytes)
        self.queries = QueryCache(self)
        self.facets = FacetKeeper(self)
        self._local = threading.local()
        self._opened: list[Library] = [self._first]
        self._opened_lock = threading.Lock()
        self.requests = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="samplemind-req")
        self.jobs_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samplemind-job")
        self.streams = ThreadPoolExecutor(max_workers=4, thread_name_prefix="samplemind-stream")
        self.exports = ThreadPoolExecutor(max_workers=2, thread_name_prefix="samplemind-export")

    def library(self) -> Library:
        """This thread's Library (opened on first use)."""
        library = getattr(self._local, "library", None)
        if library is None:
            library = Library(self.home, jobs=self.jobs, index=self.index)
            self._local.library = library
            with self._opened_lock:
                self._opened.append(library)
        return library

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """call(library, *args) in a request thread."""
        return await self._submit(self.requests, call, *args)

    async def run_job(self, call: Callable[..., T], *args: Any) -> T:
        """call(library, *args) in the job thread."""
        return await self._submit(self.jobs_executor, call, *args)

    async def run_stream(self, call: Callable[..., T], *args: Any) -> T:
        """call(library, *args) in a streaming thread (downloads that may wait on a slow
        client must not hold a request thread)."""
        return await self._submit(self.streams, call, *args)

    async def _submit(self, executor: ThreadPoolExecutor, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, lambda: call(self.library(), *args))
        finally:
            self.records.mark_dirty()  # it may have written: the cache looks before answering

    def close(self) -> None:
        """Wait for running work, then close every Library."""
        for executor in (self.requests, self.jobs_executor, self.streams, self.exports):
            executor.shutdown(wait=True, cancel_futures=True)
        with self._opened_lock:
            for library in self._opened:
                try:
                    library.close()
                except Exception:  # closing is best effort at shutdown
                    pass
            self._opened.clear()
        self.index.close()
        self.records.library.close()
