"""The persistent, content-addressed feature cache (diskcache).

Entries are keyed by (file content hash, analysis version), so they never go
stale: a moved, renamed or re-catalogued file is found again, and a new
extractor simply misses. Only the parent process writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import diskcache

from .config import DEFAULT_CACHE_LIMIT

log = logging.getLogger(__name__)


class DiskStore:
    """A diskcache folder of derived data, with hit and miss counters kept on disk. A
    damaged one is set aside and started afresh: everything in it can be made again."""

    what = "cache"  # named in the warning about a damaged one

    def __init__(self, directory: Path, size_limit: int,
                 eviction_policy: str = "least-recently-stored") -> None:
        self.size_limit = size_limit
        self.eviction_policy = eviction_policy
        try:
            self._cache = self._open(directory)
        except sqlite3.DatabaseError as exc:
            aside = directory.with_name(f"{directory.name}.damaged-{int(time.time())}")
            directory.rename(aside)
            log.warning("warning: the %s was damaged (%s); moved it to %s and started a new "
                        "one", self.what, exc, aside)
            self._cache = self._open(directory)

    def _open(self, directory: Path) -> diskcache.Cache:
        directory.mkdir(parents=True, exist_ok=True)
        cache = diskcache.Cache(str(directory), size_limit=self.size_limit,
                                eviction_policy=self.eviction_policy)
        cache.stats(enable=True)
        return cache

    def stats(self) -> dict[str, Any]:
        """Entries, bytes on disk, hits and misses since the counters were last reset."""
        hits, misses = self._cache.stats()
        return {"directory": self._cache.directory, "entries": len(self._cache),
                "size": self._cache.volume(), "size_limit": self._cache.size_limit,
                "hits": hits, "misses": misses}

    def clear(self) -> int:
        """Remove every entry and reset the counters; returns how many were removed."""
        removed = self._cache.clear()
        self._cache.stats(enable=True, reset=True)
        return removed

    def close(self) -> None:
        """Close the cache's SQLite handle."""
        self._cache.close()

    def __enter__(self) -> DiskStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FeatureCache(DiskStore):
    """Analysed features by content hash."""

    what = "feature cache"

    def __init__(self, directory: Path, size_limit: int = DEFAULT_CACHE_LIMIT) -> None:
        super().__init__(directory, size_limit)

    @staticmethod
    def key(file_hash: str, version: str) -> str:
        """The cache key of one file's analysis."""
        return f"features:{version}:{file_hash}"

    def get(self, file_hash: str, version: str) -> dict[str, Any] | None:
        """Cached analysis, or None (counted as a miss)."""
        return self._cache.get(self.key(file_hash, version))

    def put(self, file_hash: str, version: str, value: dict[str, Any]) -> None:
        """Store one file's analysis."""
        self._cache.set(self.key(file_hash, version), value)
