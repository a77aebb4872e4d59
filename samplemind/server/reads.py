"""Catalog reads and writes the server needs that Library does not offer yet.

Each function takes a Library and uses only its Catalog's methods. They belong in
``Library`` (proposed there as ``peaks``, ``sample_ids``, ``changes_since`` and
``forget``); until they move, this module is the one place in the server that reaches below Library.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import NotFound
from ..library import Library
from ..models import SCHEMA_VERSION
from .errors import Forbidden


def peaks(library: Library, sample_id: int) -> dict[str, Any]:
    """The waveform overview of one sample: (min, max) pairs over equal slices, mono."""
    rows = library.catalog.query("SELECT peaks, duration FROM samples WHERE id = ?", [sample_id])
    if not rows:
        raise NotFound(f"no sample has id {sample_id} (samplemind ls shows the ids)")
    blob, duration = rows[0]
    values = np.frombuffer(blob or b"", dtype=np.float32)
    if len(values) % 2:
        values = values[:-1]
    pairs = values.reshape(-1, 2)
    return {"schema_version": SCHEMA_VERSION, "id": sample_id, "duration": duration,
            "buckets": len(pairs),
            "peaks": [[round(float(low), 4), round(float(high), 4)] for low, high in pairs]}


def sample_ids(library: Library) -> tuple[int, set[int]]:
    """(generation, the id of every sample) read in one snapshot: where a change feed
    starts, or resyncs."""
    catalog = library.catalog
    with catalog.snapshot():
        return catalog.generation, {row[0] for row in catalog.query("SELECT id FROM samples")}


def changes_since(library: Library, since: int
                  ) -> tuple[int, list[int], list[int], set[int] | None]:
    """(generation, changed ids, removed ids, every id or None) after generation `since`,
    read in one snapshot; O(changes). Every id is listed only when removals after `since`
    may have been pruned (prune_removed, once the saved vector index applied them): the
    caller then finds removals by diffing ids instead."""
    catalog = library.catalog
    with catalog.snapshot():
        generation, changed, removed = catalog.changes_since(since)
        everyone = None
        if catalog.oldest_removal_kept() > since:
            everyone = {row[0] for row in catalog.query("SELECT id FROM samples")}
    return generation, changed, removed, everyone


def generation(library: Library) -> int:
    """The catalog generation (bumped by every committed change, by any process)."""
    return library.catalog.generation


def forget(library: Library, sample_id: int, delete_file: bool) -> dict[str, Any]:
    """Remove one sample from the catalog; with delete_file, its file first.

    Without delete_file the file stays where it is, and a later scan of its folder
    adds it again (with a new id).
    """
    sample = library.get(sample_id)
    if delete_file:
        try:
            os.unlink(sample.path)
        except FileNotFoundError:
            pass  # already gone: the catalog entry goes too
        except OSError as exc:
            raise Forbidden(f"cannot delete {sample.path}: {exc.strerror or exc}") from exc
    with library.catalog.transaction():
        library.catalog.delete_samples([sample.id])
    return {"schema_version": SCHEMA_VERSION, "id": sample.id, "path": sample.path,
            "file_deleted": delete_file}


def roots(library: Library) -> list[str]:
    """The folders (and files) the catalog was scanned from."""
    return [row[0] for row in library.catalog.query("SELECT path FROM roots ORDER BY path")]
