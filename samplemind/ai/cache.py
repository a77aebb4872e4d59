"""Model answers cached on disk for a week (diskcache, its own folder).

Why a folder of its own (``<cache dir>/ai/``) rather than tagged entries in the feature
cache: diskcache counts hits and misses per cache, so AI hits stay apart from feature
hits with no bookkeeping of ours; answers expire (7 days) while analysis never goes
stale; and a burst of answers can never evict analysis that took minutes to compute.
Keys hold what makes an answer valid: the prompt version, the model, and the sample's
content hash (for describe) or the words (for ask).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import diskcache

log = logging.getLogger(__name__)

AI_CACHE_TTL = 7 * 24 * 3600  # seconds: models and prompts change; a week keeps re-runs free
AI_CACHE_LIMIT = 64 * 1024**2  # answers are a few hundred bytes each


def ai_cache_dir(cache_dir: Path) -> Path:
    """Where a library keeps its cached model answers."""
    return Path(cache_dir) / "ai"


class AICache:
    """Model answers by (kind, prompt version, model, subject), expiring after ttl seconds."""

    def __init__(self, directory: Path, *, ttl: float = AI_CACHE_TTL) -> None:
        self.ttl = ttl
        try:
            self._cache = self._open(directory)
        except sqlite3.DatabaseError as exc:
            # Derived data: set a damaged cache aside and start afresh.
            aside = directory.with_name(f"{directory.name}.damaged-{int(time.time())}")
            directory.rename(aside)
            log.warning("warning: the AI answer cache was damaged (%s); moved it to %s", exc, aside)
            self._cache = self._open(directory)

    @staticmethod
    def _open(directory: Path) -> diskcache.Cache:
        directory.mkdir(parents=True, exist_ok=True)
        cache = diskcache.Cache(str(directory), size_limit=AI_CACHE_LIMIT)
        cache.stats(enable=True)
        return cache

    @staticmethod
    def describe_key(content_hash: str, model: str, prompt_version: str) -> str:
        """Key of one sample's description."""
        return f"describe:{prompt_version}:{model}:{content_hash}"

    @staticmethod
    def ask_key(words: str, model: str, prompt_version: str) -> str:
        """Key of one translation; the words are normalised (case, spacing) and hashed."""
        normal = " ".join(words.lower().split())
        digest = hashlib.blake2b(normal.encode(), digest_size=16).hexdigest()
        return f"ask:{prompt_version}:{model}:{digest}"

    def get(self, key: str) -> Any:
        """A cached answer, or None (counted as a miss)."""
        return self._cache.get(key)

    def put(self, key: str, value: Any) -> None:
        """Store an answer until the TTL runs out."""
        self._cache.set(key, value, expire=self.ttl)

    def stats(self) -> dict[str, Any]:
        """Entries, bytes on disk, hits and misses (counted since the last clear)."""
        hits, misses = self._cache.stats()
        return {"directory": self._cache.directory, "entries": len(self._cache),
                "size": self._cache.volume(), "ttl_days": round(self.ttl / 86400, 2),
                "hits": hits, "misses": misses}

    def clear(self) -> int:
        """Remove every answer and reset the counters; returns how many were removed."""
        removed = self._cache.clear()
        self._cache.stats(enable=True, reset=True)
        return removed

    def close(self) -> None:
        """Close the cache's SQLite handle."""
        self._cache.close()

    def __enter__(self) -> AICache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
