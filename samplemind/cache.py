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

from .closing import Closing
from .config import DEFAULT_CACHE_LIMIT
from .errors import SampleMindError

log = logging.getLogger(__name__)


class DiskStore(Closing):
    """A diskcache folder of derived data, with hit and miss counters kept on disk. A
    damaged one is set aside and started afresh: everything in it can be made again.

    repair: also clear the way when the folder cannot be made at all (a file where the cache
    folder or the cache dir belongs), as `samplemind cache clear` does; otherwise that is an
    OSError for the caller to handle.
    """

    what = "cache"  # named in the warning about a damaged one

    def __init__(self, directory: Path, size_limit: int,
                 eviction_policy: str = "least-recently-stored", *, repair: bool = False) -> None:
        self.directory = Path(directory)
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
        except OSError:
            if not repair or not self._clear_way():
                raise
            self._cache = self._open(directory)

    def _clear_way(self) -> bool:
        """Remove a file (or link) standing where the cache folder or its parent, the cache
        dir, must be; True if one was. Never a folder, and nothing further up."""
        cleared = False
        for place in (self.directory.parent, self.directory):
            if place.is_symlink() or (place.exists() and not place.is_dir()):
                place.unlink()
                log.warning("warning: removed %s, a file where a cache folder belongs", place)
                cleared = True
        return cleared

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


class FeatureCache(DiskStore):
    """Analysed features by content hash.

    Only ever a shortcut: when the folder cannot be opened or stops working mid-scan, gets
    miss and puts are dropped, `problem` says why (once), and scans analyse without it.
    """

    what = "feature cache"

    def __init__(self, directory: Path, size_limit: int = DEFAULT_CACHE_LIMIT, *,
                 repair: bool = False) -> None:
        self.problem: str | None = None
        self._error: BaseException | None = None
        try:
            super().__init__(directory, size_limit, repair=repair)
        except OSError as exc:  # a file where the folder belongs, no permission, disk gone
            self._cache = None
            self._broken(exc)

    def _broken(self, exc: BaseException) -> None:
        if self.problem is None:
            self._error = exc
            self.problem = f"the {self.what} {self.directory} cannot be used ({exc})"

    @staticmethod
    def key(file_hash: str, version: str) -> str:
        """The cache key of one file's analysis."""
        return f"features:{version}:{file_hash}"

    def get(self, file_hash: str, version: str) -> dict[str, Any] | None:
        """Cached analysis, or None (counted as a miss; always None when it is broken)."""
        if self._cache is None or self.problem:
            return None
        try:
            return self._cache.get(self.key(file_hash, version))
        except (OSError, sqlite3.Error) as exc:
            self._broken(exc)
            return None

    def put(self, file_hash: str, version: str, value: dict[str, Any]) -> None:
        """Store one file's analysis (dropped when the cache is broken)."""
        if self._cache is None or self.problem:
            return
        try:
            self._cache.set(self.key(file_hash, version), value)
        except (OSError, sqlite3.Error) as exc:
            self._broken(exc)

    def stats(self) -> dict[str, Any]:
        """As DiskStore.stats; a cache that could not be opened is an error saying why."""
        if self._cache is None:
            raise SampleMindError(self.problem or f"the {self.what} is not open")
        return super().stats()

    def clear(self) -> int:
        """As DiskStore.clear; a cache that could not be opened is an error saying why."""
        if self._cache is None:
            raise SampleMindError(self.problem or f"the {self.what} is not open")
        return super().clear()

    def close(self) -> None:
        """Close the cache's SQLite handle (if it was opened)."""
        if self._cache is not None:
            super().close()
