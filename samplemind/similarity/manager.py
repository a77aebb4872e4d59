"""Keeps the vector index in step with the catalog, across processes.

The index on disk is tagged with the catalog generation it reflects. On use, an
index behind the catalog catches up from the catalog's change log (vectors written
and samples removed since its generation) without a rebuild; a missing, damaged or
badly outdated one is rebuilt from the vectors stored in the catalog. A file lock
keeps two processes (a CLI scan and the server) from writing the index at once.

The saved index and the change log since its generation are the index: the file is
written again (whole, then renamed into place) once the vectors changed since it reach
SAVE_AFTER of its count, not after every change. One added file at a million samples
costs its own row, not a 400 MB write (0.4 s); a crash loses nothing (the next load
catches up from the log, whose removals are forgotten only once a saved index has
applied them); a process that loads the file catches up at most that share.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.layout import VECTOR_DIM
from ..catalog import Catalog
from .index import EXACT_MAX, VectorIndex, choose_kind, write_sidecar

log = logging.getLogger("samplemind.index")
CHANGES_IN_ONE_READ = 500
# The saved index file is rewritten once the vectors added, changed or removed since its
# generation reach this share of its vectors (at least one: a small library's index is
# saved after every change); until then a loader catches them up from the change log.
SAVE_AFTER = 0.01


def save_due(changes: int, count: int) -> bool:
    """Whether `changes` vector changes since the saved file make it due for a rewrite."""
    return changes >= max(1, int(count * SAVE_AFTER))


class IndexManager:
    """The current VectorIndex of one catalog, loaded, refreshed or rebuilt on demand."""

    def __init__(self, catalog: Catalog, folder: Path, exact_max: int = EXACT_MAX) -> None:
        self.catalog = catalog
        self.folder = folder
        self.exact_max = exact_max
        self._index: VectorIndex | None = None
        self._guard = threading.Lock()  # one refresh at a time in this process
        # Vector changes the loaded index holds that its saved file does not (caught up
        # from the log or applied here since it was loaded, built or saved).
        self._unsaved = 0
        self.last_action = ""  # "loaded", "updated", "rebuilt: <why>" (for stats and tests)

    def current(self) -> VectorIndex:
        """The index, brought up to the catalog's current generation."""
        generation = self.catalog.generation
        index = self._index
        if index is not None and index.info.generation == generation:
            return index
        with self._guard:
            return self._refresh()

    @property
    def loaded(self) -> VectorIndex | None:
        """The index object in memory now, as it is (not brought up to the catalog)."""
        return self._index

    def rebuild(self, reason: str = "asked for") -> VectorIndex:
        """Build from the catalog and save, whatever is on disk."""
        with self._guard, self._file_lock():
            return self._build(reason)

    def refresh_saved(self, catalog: Catalog | None = None) -> None:
        """Bring the saved index up to the catalog's generation, so the next search starts
        at once. When no vector changed since it was saved (a no-op scan, a tag edit) only
        its sidecar moves on, and an index not loaded yet is not even read. `catalog`: the
        caller's own connection (the manager's may be another thread's, in the server)."""
        with self._guard:
            if self._index is None and self._advance_saved(catalog or self.catalog):
                return
        self.current()

    def status(self) -> dict[str, object]:
        """Figures of the index as it is now (after bringing it up to date)."""
        index = self.current()
        return {**index.describe(), "folder": str(self.folder), "last_action": self.last_action}

    # -- internals -------------------------------------------------------------------

    def _refresh(self) -> VectorIndex:
        with self._file_lock():
            generation = self.catalog.generation
            index = self._index
            if index is not None and index.info.generation == generation:
                return index
            # Another process may have saved a fresher index: prefer it to catching up.
            meta = _sidecar(self.folder) or {}
            saved = _saved_generation(meta)
            fresher = saved is not None and index is not None and \
                index.info.generation < saved <= generation
            if fresher and index is not None and index.info.file and \
                    meta.get("file") == index.info.file:
                # It is this very file, its sidecar moved on over generations that changed
                # no vector (_advance_saved): follow it rather than read the same vectors
                # again (and keep this object, which the server's neighbour table is of).
                with index.lock.writing():
                    index.info.generation = saved
                self.last_action = "followed the saved index (no vector changed)"
            elif index is None or fresher:
                index = self._index = self._load()
            if index is None:
                return self._build(self.last_action or "no saved index")
            if index.info.generation > generation:
                return self._build("the index is newer than the catalog (catalog replaced?)")
            if index.info.generation < generation:
                reason = self._catch_up(index)
                if reason:
                    return self._build(reason)
            return index

    def _load(self) -> VectorIndex | None:
        if not (self.folder / "index.json").exists():
            return None
        try:
            index = VectorIndex.load(self.folder)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("the vector index in %s is unusable (%s); rebuilding it from the catalog",
                        self.folder, exc)
            self.last_action = f"damaged ({exc})"
            return None
        self.last_action = "loaded"
        self._unsaved = 0
        return index

    def _catch_up(self, index: VectorIndex) -> str | None:
        """Apply the catalog's changes since the index's generation; or say why a rebuild
        is needed instead."""
        with self.catalog.snapshot():
            generation = self.catalog.generation
            if index.info.generation < self.catalog.oldest_removal_kept():
                return "its change log was pruned"
            changed, removed = self.catalog.vector_changes(index.info.generation)
            ids_parts, raw_parts = [], []
            for start in range(0, len(changed), CHANGES_IN_ONE_READ):
                chunk = changed[start:start + CHANGES_IN_ONE_READ]
                marks = ", ".join("?" for _ in chunk)
                ids, raw = self.catalog.vectors(f"s.id IN ({marks})", chunk, dim=VECTOR_DIM)
                ids_parts.append(ids)
                raw_parts.append(raw)
        add_ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
        add_raw = np.concatenate(raw_parts) if raw_parts else np.zeros((0, VECTOR_DIM), np.float32)
        # Every changed id leaves first: one whose new vector is missing (failed) or of an
        # older layout must not keep its old place.
        gone = np.asarray([*removed, *changed], np.int64)
        # The number of vectors once the changes are in, from the index itself: it holds
        # exactly the catalog's vectors of this layout, so this is what counting them in
        # the catalog gave (a full scan of the samples, 0.08-0.2 s at 100k) for the price of
        # listing the index's ids (1-3 ms); none of that when nothing changed.
        count = index.count
        if len(gone):
            count += len(add_ids) - int(np.isin(np.unique(gone), index.ids()).sum())
        if index.needs_rebuild(count, self.exact_max):
            return "the library grew or shrank too much for in-place updates"
        if not len(gone):  # a tag edit or a no-op scan moved the generation, no vector
            self._advance(index, generation)
            return None
        index.update(add_ids, add_raw, gone, generation)
        self.last_action = f"updated: {len(add_ids)} added or changed, {len(removed)} removed"
        self._unsaved += len(np.unique(gone))
        if save_due(self._unsaved, index.count):
            self._save(index)
        return None

    def _advance(self, index: VectorIndex, generation: int) -> None:
        """Move an index to a later generation that changed no vector. When the saved
        index is this one, only its sidecar is rewritten: the .faiss file (40 MB at 100k,
        46 ms with its fsync) keeps its name, which may now carry an older generation
        (load() reads the name from the sidecar; save() removes it once replaced). Nothing
        was removed, so there is nothing for prune_removed to forget."""
        if self._unsaved:  # the saved file is older than this index: it stays as it is
            with index.lock.writing():
                index.info.generation = generation
            self.last_action = "updated: no vector changed"
            return
        meta = _sidecar(self.folder)
        saved_is_this = (meta is not None and meta.get("generation") == index.info.generation
                         and bool(index.info.file) and meta.get("file") == index.info.file
                         and (self.folder / index.info.file).is_file())
        with index.lock.writing():
            index.info.generation = generation
        self.last_action = "updated: no vector changed"
        if not saved_is_this:  # never saved (read-only home), or another process's: save
            self._save(index)
            return
        try:
            index.save_sidecar(self.folder)
        except OSError as exc:
            log.warning("could not save the vector index in %s: %s", self.folder, exc)

    def _advance_saved(self, catalog: Catalog) -> bool:
        """Move the saved index's sidecar to the catalog's generation without loading the
        index, when no vector changed since the generation it names. True when there is
        nothing more to do (also when vectors changed since, too few to make the file due
        for a rewrite: a loader catches them up); False when it needs current() (changes
        to apply, a rebuild, nothing readable saved)."""
        with self._file_lock():
            meta = _sidecar(self.folder)
            if meta is None:
                return False
            try:
                saved, count = int(meta["generation"]), int(meta["count"])
                kind, file = meta["kind"], str(meta["file"])
            except (KeyError, TypeError, ValueError):
                return False
            with catalog.snapshot():
                generation = catalog.generation
                if saved == generation:
                    return True
                if saved > generation or saved < catalog.oldest_removal_kept():
                    return False
                changed, removed = catalog.vector_changes(saved)
            if kind != choose_kind(count, self.exact_max) or not file or \
                    not (self.folder / file).is_file():
                return False
            if changed or removed:
                return not save_due(len(set(changed) | set(removed)), count)
            try:
                write_sidecar(self.folder, {**meta, "generation": generation})
            except OSError as exc:  # read-only: loading the index could not save it either
                log.warning("could not save the vector index in %s: %s", self.folder, exc)
                return True
            self.last_action = "updated: no vector changed (saved index, not loaded)"
            return True

    def _build(self, reason: str) -> VectorIndex:
        with self.catalog.snapshot():
            generation = self.catalog.generation
            ids, raw = self.catalog.vectors(dim=VECTOR_DIM)
        index = VectorIndex.build(ids, raw, generation, exact_max=self.exact_max)
        log.info("vector index rebuilt (%s): %d vectors, %s", reason, index.count, index.info.kind)
        self.last_action = f"rebuilt: {reason}"
        self._index = index
        self._save(index)
        return index

    def _save(self, index: VectorIndex) -> None:
        try:
            index.save(self.folder)
            self._unsaved = 0
            self.catalog.prune_removed(index.info.generation)
        except OSError as exc:  # a read-only home still searches, from memory
            log.warning("could not save the vector index in %s: %s", self.folder, exc)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / "lock", "a")  # noqa: SIM115
        except OSError:
            yield  # read-only: nothing will be written, nothing to guard
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def _sidecar(folder: Path) -> dict[str, Any] | None:
    """The saved index.json as it is, or None when missing or unreadable."""
    try:
        meta = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _saved_generation(meta: dict[str, Any]) -> int | None:
    try:
        return int(meta["generation"])
    except (ValueError, KeyError, TypeError):
        return None


class SharedIndexManager(IndexManager):
    """An IndexManager the Libraries of several threads share (the server's: the FAISS index
    is loaded once per process, not once per thread). It has its own catalog connection,
    used by one thread at a time; the searches themselves run concurrently under the
    index's own reader/writer lock. Made by Library.shared_index."""

    def __init__(self, catalog: Catalog, folder: Path) -> None:
        super().__init__(catalog, folder)
        self._connection_lock = threading.RLock()  # status() calls current()

    def current(self) -> VectorIndex:
        with self._connection_lock:
            return super().current()

    def rebuild(self, reason: str = "asked for") -> VectorIndex:
        with self._connection_lock:
            return super().rebuild(reason)

    def status(self) -> dict[str, object]:
        with self._connection_lock:
            return super().status()

    def close(self) -> None:
        """Close its catalog connection (the Libraries that share it leave it open). At
        shutdown, without the lock: a background build that holds it may wait on the event
        loop that is closing us, and its next read simply fails."""
        self.catalog.close()
