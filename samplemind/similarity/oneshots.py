"""What the steps after a scan (consensus.py, teach.py) read of every one-shot, kept in
memory per catalog file and brought up to date from the catalog's change feed
(ARCHITECTURE.md, the second door): each sample's category, its confidence and source,
whether the sound model hears it and whether it has a vector of the index's layout; and
how far each sound consensus search reached (table `sounds`).

Read whole once per process (a second at a million samples), then only the rows changed or
removed since (`Catalog.changes_since`): one added file costs these steps the read of its
own row, not of every one-shot. Columns are numpy arrays (about 25 bytes a one-shot), so
a million one-shots hold some 25 MB. The arrays of a state are never changed in place: a
newer state is a new object, so a thread holding an older one reads it safely.

The `sounds` table is written by one function alone (consensus._save_reach), which counts
its writes in the meta key `sounds_written`: a copy that has seen every write it counts is
current, else it is read again (another process asked the consensus meanwhile)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis import classify
from ..analysis.layout import VECTOR_DIM
from ..catalog import Catalog

# More changes than this share of the one-shots since the kept state (a first big scan):
# one read of every one-shot costs less than reading the changed ones by id
REREAD_SHARE = 0.2
CHUNK = 500
KEPT_CATALOGS = 8  # catalogs whose one-shots a process keeps (a server has one)
SOUNDS_WRITTEN = "sounds_written"  # meta: how many writes the `sounds` table has had

# (every one-shot from the covering index of migration m009, without the wide rows; a row
# read by id also says whether its vector has the index's layout)
_COLUMNS = "SELECT id, type, duration, category, category_confidence, category_source FROM samples"
_BY_ID = ("SELECT id, type, duration, category, category_confidence, category_source, "
          f"coalesce(length(vector) = {4 * VECTOR_DIM}, 0) FROM samples")


@dataclass(frozen=True)
class OneShots:
    """Every one-shot of a catalog as of `generation`, sorted by id."""

    generation: int
    ids: np.ndarray  # int64, sorted
    category: np.ndarray  # int32: codes into `names` (0: none)
    confidence: np.ndarray  # float64, NaN for none (SQLite stores no NaN)
    source: np.ndarray  # int16: codes into `sources` (0: none)
    votes: np.ndarray  # bool: short enough for the sound model (consensus.listeners)
    # bool: has a vector of the index's layout (so is in an index as current as these rows);
    # None until first asked (in_index): a full read leaves the wide rows unread
    indexed: np.ndarray | None
    names: tuple[str | None, ...]
    sources: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def of_source(self, *sources: str | None) -> np.ndarray:
        """A mask of the one-shots whose category comes from one of `sources`."""
        codes = [i for i, source in enumerate(self.sources) if source in sources]
        return np.isin(self.source, np.array(codes, np.int16))

    def count(self, *sources: str | None) -> int:
        return int(np.count_nonzero(self.of_source(*sources)))

    def positions(self, ids: Any) -> np.ndarray:
        """The rows of ids that are one-shots here (others are left out)."""
        ids = np.asarray(ids, np.int64)
        at = np.searchsorted(self.ids, ids)
        inside = at < len(self.ids)
        at, ids = at[inside], ids[inside]
        return at[self.ids[at] == ids]

    def rows(self, at: np.ndarray | None = None) -> list[tuple[int, str | None, float | None,
                                                              str | None]]:
        """(id, category, confidence, source) of the one-shots at rows `at` (default all)."""
        at = np.arange(len(self.ids)) if at is None else at
        names, sources = self.names, self.sources
        return [(i, names[c], None if p != p else p, sources[s]) for i, c, p, s in zip(
            self.ids[at].tolist(), self.category[at].tolist(), self.confidence[at].tolist(),
            self.source[at].tolist())]

    def row(self, sample_id: int) -> tuple[str | None, float | None, str | None] | None:
        """(category, confidence, source) of one one-shot, None when it is none."""
        at = self.positions([sample_id])
        return self.rows(at)[0][1:] if len(at) else None

    def in_index(self, vectors: Any) -> np.ndarray | None:
        """A mask of the one-shots in the VectorIndex `vectors`, when it is as current as
        these rows (it then holds exactly the rows with a vector of its layout); else None.
        Filled from the index's ids the first time after a full read."""
        if vectors.info.generation != self.generation:
            return None
        if self.indexed is None:  # (the same mask whoever fills it first)
            object.__setattr__(self, "indexed", np.isin(self.ids, vectors.ids()))
        return self.indexed

    def voters(self, vectors: Any) -> np.ndarray | None:
        """consensus.listeners from these rows: the one-shots the sound model hears that the
        index holds (sorted); None when the index is not as current as these rows."""
        inside = self.in_index(vectors)
        return None if inside is None else self.ids[self.votes & inside]


@dataclass(frozen=True)
class Reach:
    """The `sounds` table as of `written` writes: ids sorted, reach (inf for NULL)."""

    written: int
    ids: np.ndarray
    reach: np.ndarray

    def of(self, ids: np.ndarray) -> np.ndarray:
        """The reach of each id: inf when its search found fewer than it asked for or was
        never kept (what consensus._within_reach treats alike)."""
        at = np.searchsorted(self.ids, ids)
        inside = at < len(self.ids)
        out = np.full(len(ids), np.inf)
        hit = np.flatnonzero(inside)
        hit = hit[self.ids[at[hit]] == ids[hit]]
        out[hit] = self.reach[at[hit]]
        return out


_lock = threading.Lock()
_kept: dict[tuple[str, int, int], OneShots] = {}
_reach: dict[tuple[str, int, int], Reach] = {}


def current(catalog: Catalog) -> OneShots:
    """Every one-shot as of now (or later): the kept state brought up to date from the
    change feed, or read whole when there is none, when removals it would miss were pruned
    from the log, or when most rows changed."""
    key = _key(catalog)
    with _lock:
        kept = _kept.get(key)
    state = None
    if kept is not None:
        with catalog.snapshot():
            generation, changed, removed = catalog.changes_since(kept.generation)
            # removals the log no longer lists: the count of one-shots tells whether any
            # is missing (additions are never forgotten: every row keeps its last change)
            pruned = kept.generation < catalog.oldest_removal_kept()
            count = int(catalog.scalar("SELECT coalesce(sum(samples), 0) FROM library_figures "
                                       "WHERE type = 'oneshot'")) if pruned else 0
        if generation == kept.generation and not changed and not removed and not pruned:
            return kept
        if generation >= kept.generation and \
                len(changed) + len(removed) <= REREAD_SHARE * max(len(kept), 1000):
            state = _apply(catalog, kept, generation, changed, removed)
            if pruned and len(state) != count:
                state = None
    if state is None:
        state = _read(catalog)
    with _lock:
        older = _kept.pop(key, None)
        _kept[key] = state if older is None or older.generation <= state.generation else older
        while len(_kept) > KEPT_CATALOGS:  # (the least recently brought up to date goes)
            _kept.pop(next(iter(_kept)))
    return state


def forget(catalog: Catalog) -> None:
    """Drop what is kept of this catalog (tests; a catalog replaced under the same path)."""
    with _lock:
        _kept.pop(_key(catalog), None)
        _reach.pop(_key(catalog), None)


def _key(catalog: Catalog) -> tuple[str, int, int]:
    """A catalog file: its path and inode (a catalog replaced under the same path is
    another one)."""
    try:
        info = os.stat(catalog.path)
    except OSError:
        return str(catalog.path), 0, 0
    return str(catalog.path), info.st_dev, info.st_ino


def _read(catalog: Catalog) -> OneShots:
    """Every one-shot, read in parts (no list of a million rows at once)."""
    parts: list[OneShots] = []
    names: tuple[str | None, ...] = (None,)
    sources: tuple[str | None, ...] = (None,)
    with catalog.snapshot():
        generation = catalog.generation
        cursor = catalog.conn.execute(_COLUMNS + " WHERE type = 'oneshot'")
        while rows := cursor.fetchmany(50_000):
            parts.append(_build(generation, rows, names, sources))
            names, sources = parts[-1].names, parts[-1].sources
    if not parts:
        return _build(generation, [], names, sources)  # (no rows: an empty mask)
    ids = np.concatenate([part.ids for part in parts])
    order = np.argsort(ids, kind="stable")
    return OneShots(generation, ids[order], *(
        np.concatenate([getattr(part, column) for part in parts])[order]
        for column in ("category", "confidence", "source", "votes")), None, names, sources)


def _apply(catalog: Catalog, kept: OneShots, generation: int, changed: list[int],
           removed: list[int]) -> OneShots:
    """kept with the changed rows read again and the removed ones left out. (Rows read
    after `generation` may be newer still: the next update reads them again, the same.)"""
    rows = []
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start:start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows += catalog.query(_BY_ID + f" WHERE id IN ({marks}) AND type = 'oneshot'", chunk)
    drop = np.array(sorted({*changed, *removed}), np.int64)
    keep = ~np.isin(kept.ids, drop)
    fresh = _build(generation, rows, kept.names, kept.sources)
    names, sources = fresh.names, fresh.sources
    ids = np.concatenate([kept.ids[keep], fresh.ids])
    order = np.argsort(ids, kind="stable")
    return OneShots(
        generation, ids[order],
        np.concatenate([kept.category[keep], fresh.category])[order],
        np.concatenate([kept.confidence[keep], fresh.confidence])[order],
        np.concatenate([kept.source[keep], fresh.source])[order],
        np.concatenate([kept.votes[keep], fresh.votes])[order],
        None if kept.indexed is None or fresh.indexed is None else
        np.concatenate([kept.indexed[keep], fresh.indexed])[order], names, sources)


def _build(generation: int, rows: list[tuple], names: tuple[str | None, ...],
           sources: tuple[str | None, ...]) -> OneShots:
    rows = sorted(rows)
    name_list, source_list = list(names), list(sources)
    name_code = {name: i for i, name in enumerate(name_list)}
    source_code = {source: i for i, source in enumerate(source_list)}

    def code(value: str | None, codes: dict, values: list) -> int:
        found = codes.get(value)
        if found is None:
            found = codes[value] = len(values)
            values.append(value)
        return found

    limit = classify.CATEGORY_MAX_SECONDS
    ids = np.array([r[0] for r in rows], np.int64)
    category = np.array([code(r[3], name_code, name_list) for r in rows], np.int32)
    confidence = np.array([np.nan if r[4] is None else r[4] for r in rows], np.float64)
    source = np.array([code(r[5], source_code, source_list) for r in rows], np.int16)
    votes = np.array([r[2] is not None and r[2] <= limit for r in rows], bool)
    indexed = np.array([bool(r[6]) for r in rows], bool) if not rows or len(rows[0]) > 6 else None
    return OneShots(generation, ids, category, confidence, source, votes, indexed,
                    tuple(name_list), tuple(source_list))


def mixed(x: np.ndarray) -> np.ndarray:
    """splitmix64 of each uint64 (wrapping arithmetic): a well-spread 64-bit hash."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def id_sum(ids: np.ndarray) -> str:
    """Which ids, in a form that depends neither on their order nor on reading them all
    again: the sum of one hash per id, modulo 2^64."""
    with np.errstate(over="ignore"):
        return str(int(mixed(np.asarray(ids, np.int64).astype(np.uint64)).sum(dtype=np.uint64)))


# -- how far each consensus search reached (table `sounds`) ------------------------------------


def written(catalog: Catalog) -> int:
    value = catalog.scalar("SELECT value FROM meta WHERE key = ?", [SOUNDS_WRITTEN])
    return int(value) if value else 0


def reach(catalog: Catalog) -> Reach:
    """The `sounds` table, read whole only when another writer wrote since the kept copy."""
    key = _key(catalog)
    with catalog.snapshot():
        count = written(catalog)
        with _lock:
            kept = _reach.get(key)
        if kept is not None and kept.written == count:
            return kept
        rows = sorted(catalog.query("SELECT sample_id, reach FROM sounds"))
    fresh = Reach(count, np.array([r[0] for r in rows], np.int64),
                  np.array([np.inf if r[1] is None else r[1] for r in rows], np.float64))
    with _lock:
        _reach.pop(key, None)
        _reach[key] = fresh
        while len(_reach) > KEPT_CATALOGS:
            _reach.pop(next(iter(_reach)))
    return fresh


def save_reach(catalog: Catalog, values: dict[int, float | None]) -> None:
    """Write how far each search reached (`sounds`), count the write, and keep the copy
    current when it had seen every earlier write. Not a catalog change."""
    if not values:
        return
    key = _key(catalog)
    with catalog.transaction(bump=False):
        before = written(catalog)
        catalog.conn.executemany("INSERT OR REPLACE INTO sounds (sample_id, reach) "
                                 "VALUES (?, ?)", list(values.items()))
        catalog.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                             "DO UPDATE SET value = excluded.value",
                             [SOUNDS_WRITTEN, str(before + 1)])
    with _lock:
        kept = _reach.get(key)
        if kept is None or kept.written != before:
            _reach.pop(key, None)
            return
        ids = np.array(sorted(values), np.int64)
        new = np.array([np.inf if values[i] is None else values[i] for i in ids.tolist()])
        keep = ~np.isin(kept.ids, ids)
        merged = np.concatenate([kept.ids[keep], ids])
        order = np.argsort(merged, kind="stable")
        _reach[key] = Reach(before + 1, merged[order],
                            np.concatenate([kept.reach[keep], new])[order])
