"""AI descriptions in the catalog: the ``ai_descriptions`` table (migration m007) and the
tags of source ``ai`` (the tags table, through Catalog.set_tags).

A stored description remembers the content hash, model and prompt version it answered,
so a batch resumed after an interruption skips exactly the samples already done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog import Catalog, now_iso

AI_SOURCE = "ai"
_CHUNK = 500  # ids per IN (...) list, well inside SQLite's parameter limit


@dataclass(frozen=True)
class StoredDescription:
    """One sample's stored AI description and what produced it."""

    sample_id: int
    hash: str
    model: str
    prompt_version: str
    description: str
    mood: str | None
    uses: list[str]
    tags: list[str]
    described_at: str

    def answers(self, content_hash: str, model: str, prompt_version: str) -> bool:
        """True when this description is for these bytes, by this model and prompt."""
        return (self.hash, self.model, self.prompt_version) == (content_hash, model, prompt_version)


def load(catalog: Catalog, ids: Sequence[int]) -> dict[int, StoredDescription]:
    """Stored descriptions of the given samples (those that have one), with their AI tags."""
    found: dict[int, StoredDescription] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start:start + _CHUNK])
        marks = ", ".join("?" for _ in chunk)
        tags: dict[int, list[str]] = {}
        for sample_id, tag in catalog.query(
                f"SELECT sample_id, tag FROM tags WHERE source = ? AND sample_id IN ({marks}) "
                "ORDER BY sample_id, tag", [AI_SOURCE, *chunk]):
            tags.setdefault(sample_id, []).append(tag)
        for row in catalog.query(
                "SELECT sample_id, hash, model, prompt_version, description, mood, uses, "
                f"described_at FROM ai_descriptions WHERE sample_id IN ({marks})", chunk):
            sample_id, digest, model, version, description, mood, uses, at = row
            found[sample_id] = StoredDescription(sample_id, digest, model, version, description,
                                                 mood, json.loads(uses or "[]"),
                                                 tags.get(sample_id, []), at)
    return found


def prompt_tags(catalog: Catalog, sample_id: int) -> list[str]:
    """The tags a prompt may mention: every source but ``ai`` (a model should not be fed its
    own earlier guesses when asked again)."""
    return [row[0] for row in catalog.query(
        "SELECT tag FROM tags WHERE sample_id = ? AND source != ? ORDER BY tag",
        [sample_id, AI_SOURCE])]


def save(catalog: Catalog, sample_id: int, content_hash: str, model: str, prompt_version: str,
         answer: dict[str, Any]) -> StoredDescription:
    """Store one validated answer and its tags in one transaction (so a kill keeps it
    whole or not at all)."""
    stamp = now_iso()
    with catalog.transaction():
        catalog.conn.execute(
            "INSERT OR REPLACE INTO ai_descriptions (sample_id, hash, model, prompt_version, "
            "description, mood, uses, described_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sample_id, content_hash, model, prompt_version, answer["description"],
             answer["mood"], json.dumps(answer["uses"], ensure_ascii=False), stamp))
        catalog.set_tags(sample_id, answer["tags"], AI_SOURCE)
    return StoredDescription(sample_id, content_hash, model, prompt_version,
                             answer["description"], answer["mood"], list(answer["uses"]),
                             sorted(answer["tags"]), stamp)
