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
from pathlib import Path
from typing import Any

from ..cache import DiskStore

AI_CACHE_TTL = 7 * 24 * 3600  # seconds: models and prompts change; a week keeps re-runs free
AI_CACHE_LIMIT = 64 * 1024**2  # answers are a few hundred bytes each


def ai_cache_dir(cache_dir: Path) -> Path:
    """Where a library keeps its cached model answers."""
    return Path(cache_dir) / "ai"


class AICache(DiskStore):
    """Model answers by (kind, prompt version, model, subject), expiring after ttl seconds."""

    what = "AI answer cache"

    def __init__(self, directory: Path, *, ttl: float = AI_CACHE_TTL, repair: bool = False) -> None:
        self.ttl = ttl
        super().__init__(directory, AI_CACHE_LIMIT, eviction_policy="least-recently-stored",
                         repair=repair)

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
        """Entries, bytes on disk, hits and misses (counted since the last clear), TTL."""
        return {**super().stats(), "ttl_days": round(self.ttl / 86400, 2)}
