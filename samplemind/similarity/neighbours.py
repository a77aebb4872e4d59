"""Every sample's nearest neighbours, worked out ahead of the question.

The server's usual similar question is "the sounds nearest this catalog sample", all
aspects equal, no filter, a dozen or so hits. A table of each sample's TABLE_K nearest
answers that with a lookup instead of a search (the server keeps it current:
server/neighbour_keeper.py). Its rows hold exactly what search.ranked() returns for the
same question: FAISS is asked the same way (in batches under FAISS's BLAS threshold, so
each query's distances are computed by the same code as a single search), and the
per-aspect and combined distances come from the same functions, rounded the same way.
The one difference: among neighbours at exactly the same distance (copies of one sound)
the table and a live search may keep different ones at the edge of k.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import orjson

from .index import VectorIndex
from .search import Ranked
from .vectors import ASPECTS, aspect_distances, combined_distance, score

if TYPE_CHECKING:
    from ..catalog import Catalog
    from .manager import IndexManager

TABLE_K = 16  # neighbours kept per sample (the CLI asks 10 by default, the web UI 12)
FAISS_BATCH = 16  # queries per FAISS call: from 20 on, FAISS computes distances with BLAS
CHUNK = 512  # queries read and computed together (numpy's per-call cost, amortised)
# Kept compact so a million samples fit (~300 MB): ids in 32 bits, numbers in 16 bits as
# round(value * SCALE) (search.ranked rounds to 4 places, so that is exact). Distances are
# root mean squares of standard scores clipped at 3 (so at most 6); a row with a value
# of 6.5535 or more keeps its numbers in 32 bits, apart (NeighbourTable.wide).
BYTES_PER_NEIGHBOUR = 4 + 2 * (2 + len(ASPECTS))  # id, score, distance, aspects
SCALE = 10_000
NARROW_MAX = np.iinfo(np.uint16).max  # this and above: the row is kept wide


class IndexChanged(Exception):
    """The index changed while the table was being built; build again."""


@dataclass
class NeighbourTable:
    """Nearest neighbours of every sample in one state of one index."""

    index: VectorIndex  # the index object (and version) the rows were read from
    version: int
    generation: int  # the newest catalog generation this table is known to be right for
    ids: np.ndarray  # (n,) sample ids, sorted
    filled: np.ndarray  # (n,) uint8: how many neighbours each row has
    neighbours: np.ndarray  # (n, K) ids, nearest first (FAISS order), self left out
    numbers: np.ndarray  # (n, K, 2 + aspects) uint16: score, distance, per-aspect distances
    # (the order of a hit's JSON fields), each * SCALE; NARROW_MAX where the row is wide
    wide: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # row -> its
    # (K, 2 + aspects) int32 numbers, for the rare rows with a value past NARROW_MAX
    row_of: np.ndarray | None = None  # id -> row (-1: none), when ids are dense enough
    probes: np.ndarray | None = None  # (n, nprobe + PROBE_SPARE): the inverted lists a search
    # from each sample visits, nearest first (an IVF index; patch() reads them)
    computed: int = 0  # rows computed to make this table (all of them when built anew)

    def __post_init__(self) -> None:
        if self.row_of is None and len(self.ids) and int(self.ids[-1]) <= 4 * len(self.ids):
            # A direct map costs 4 bytes per id up to the largest: a lookup in ~0.1 us.
            self.row_of = np.full(int(self.ids[-1]) + 1, -1, np.int32)
            self.row_of[self.ids] = np.arange(len(self.ids), dtype=np.int32)

    @property
    def k(self) -> int:
        return int(self.neighbours.shape[1])

    @property
    def nbytes(self) -> int:
        return (sum(a.nbytes for a in (self.ids, self.filled, self.neighbours, self.numbers,
                                       self.row_of if self.row_of is not None else self.ids[:0],
                                       self.probes if self.probes is not None else self.ids[:0]))
                + sum(a.nbytes for a in self.wide.values()))

    def _numbers(self, row: int, take: int) -> np.ndarray:
        """The (take, 2 + aspects) scaled numbers of a row's first neighbours."""
        wide = self.wide.get(row)
        return (self.numbers[row] if wide is None else wide)[:take]

    def row(self, sample_id: int) -> int:
        """The row of a sample, or -1."""
        if self.row_of is not None:
            return int(self.row_of[sample_id]) if 0 <= sample_id < len(self.row_of) else -1
        row = int(np.searchsorted(self.ids, sample_id))
        return row if row < len(self.ids) and self.ids[row] == sample_id else -1

    def _slot(self, sample_id: int, k: int) -> tuple[int, int] | None:
        """(row, how many of its neighbours to take), or None when the table cannot say."""
        if k > self.k or k < 1:
            return None
        row = self.row(sample_id)
        return None if row < 0 else (row, min(k, int(self.filled[row])))

    def encoded(self, sample_id: int, k: int) -> list[tuple[int, bytes]] | None:
        """ranked(), each hit as (id, the JSON of Ranked.fields()): the same bytes orjson
        writes for them, made from numbers encoded once for the whole table (the server
        splices them into its answer; a hit's dict and encoding cost more than its lookup)."""
        slot = self._slot(sample_id, k)
        if slot is None:
            return None
        row, take = slot
        ids = self.neighbours[row, :take].tolist()
        width = self.numbers.shape[2]
        flat = self._numbers(row, take).ravel().tolist()
        encoded = _encode_all(flat)
        # Sorted by (distance, id) as ranked() is: the scaled integers order as their floats.
        order = sorted(range(take), key=lambda i: (flat[i * width + 1], ids[i]))
        return [(ids[i], _FIELDS % tuple(encoded[i * width:(i + 1) * width])) for i in order]

    def ranked(self, sample_id: int, k: int) -> list[Ranked] | None:
        """What search.ranked(index, [sample_id], k=k, aspects=None, allowed=None) returns;
        None when this table cannot say (k too large, or the sample is not in it)."""
        slot = self._slot(sample_id, k)
        if slot is None:
            return None
        row, take = slot
        ids = self.neighbours[row, :take].tolist()
        numbers = (self._numbers(row, take) / SCALE).tolist()
        out = [Ranked(ids[i], values[0], values[1], dict(zip(ASPECTS, values[2:])))
               for i, values in enumerate(numbers)]
        out.sort(key=_order)  # as search.ranked orders them
        return out


def _order(hit: Ranked) -> tuple[float, int]:
    return hit.distance, hit.id


# The JSON of Ranked.fields(), keys in its order, for numbers kept as value * SCALE.
_FIELDS = (b'{"score":%b,"distance":%b,"aspect_distances":{'
           + b",".join(b'"%s":%%b' % aspect.encode() for aspect in ASPECTS) + b"}}")
_NUMBERS_KEPT = 100_000  # values below 10 (almost every distance) are encoded ahead


@functools.cache
def _encoded_numbers() -> list[bytes]:
    """orjson's bytes for i / SCALE, for every i below _NUMBERS_KEPT (5 MB, ~60 ms, once).
    Copied: orjson's own bytes objects keep a few KB of spare capacity each (400 MB)."""
    return [bytes(memoryview(orjson.dumps(i / SCALE))) for i in range(_NUMBERS_KEPT)]


def _encode_all(numbers: list[int]) -> list[bytes]:
    """orjson's bytes for each number / SCALE (looked up: one C-level map for a whole row;
    the numbers are never negative, so an index is never taken from the end)."""
    kept = _encoded_numbers()
    try:
        return list(map(kept.__getitem__, numbers))
    except IndexError:  # a value of 10 or more somewhere in the row
        return [kept[n] if n < _NUMBERS_KEPT else orjson.dumps(n / SCALE) for n in numbers]


def _fields_json(numbers: list[int]) -> bytes:
    """The JSON of one hit's fields from its scaled numbers (score, distance, aspects)."""
    return _FIELDS % tuple(_encode_all(numbers))


def estimated_bytes(count: int, k: int = TABLE_K, probes: int = 0) -> int:
    """Memory a table of `count` samples takes (its rare wide rows aside); `probes`: the
    lists kept per sample for an IVF index (NeighbourTable.probes)."""
    return count * (k * BYTES_PER_NEIGHBOUR + 4 + 1 + 16 + 2 * probes)  # + id, filled, id ->
    # row map (up to 4 ids per sample), the lists a search from it visits


def table_for(manager: IndexManager, previous: NeighbourTable | None, max_bytes: int,
              should_stop: Callable[[], bool] | None = None, attempts: int = 3,
              catalog: Catalog | None = None) -> NeighbourTable | None:
    """The table for manager's index as the catalog is now: previous again, marked with the
    generation now, when no vector moved since it was built; previous patched where vectors
    moved, when few did and `catalog` (the caller's connection) says which; None when there
    is nothing to table, it would take more than max_bytes, or the index kept changing under
    each of `attempts` tries (a scan is running)."""
    for _ in range(attempts):
        index = manager.current()  # brings the index up to the catalog
        with index.lock.reading():
            version, generation, count = index.version, index.info.generation, index.count
        if previous is not None and previous.index is index and previous.version == version:
            return dataclasses.replace(previous, generation=generation)
        if count == 0 or estimated_bytes(count, probes=_probe_width(index)) > max_bytes:
            return None
        try:
            if previous is not None and previous.index is index and catalog is not None:
                patched = patch(previous, catalog, should_stop=should_stop)
                if patched is not None:
                    return patched
            return build(index, should_stop=should_stop)
        except IndexChanged:
            if should_stop is not None and should_stop():
                return None
    return None


def build(index: VectorIndex, k: int = TABLE_K,
          should_stop: Callable[[], bool] | None = None) -> NeighbourTable:
    """The table of the index as it is now. Reads under the index's read lock a batch at
    a time (an update waits at most one batch); raises IndexChanged when the index changed
    in between, and stops early (IndexChanged too) when should_stop() says so."""
    version, generation, ids = _state(index)
    table = _empty(index, version, generation, ids, k)
    _fill(table, np.arange(len(ids)), should_stop)
    table.computed = len(ids)
    return table


def patch(previous: NeighbourTable, catalog: Catalog,
          should_stop: Callable[[], bool] | None = None) -> NeighbourTable | None:
    """previous brought up to its index as it is now by recomputing only the rows a moved
    vector can change, or None when a build is the better way (too many moved, the change
    log pruned, not an index this can patch). A row is recomputed when its sample is new or
    moved, when one of its neighbours moved or left, or when a sample that arrived (new or
    moved) is visible to a search from it (its inverted list among the ones that search
    visits, NeighbourTable.probes; every list for an exact index) and no farther than the
    row's farthest neighbour. Any other row is what a search from it answers now: it sees
    nothing new nearer than what it has, and lost nothing it had. Raises IndexChanged as
    build() does."""
    index, k = previous.index, previous.k
    version, generation, ids = _state(index)
    with catalog.snapshot():
        if catalog.oldest_removal_kept() > previous.generation:
            return None  # removals since the table are forgotten: cannot tell which
        changed, _ = catalog.vector_changes(previous.generation)
    if (index.info.kind == "ivf") != (previous.probes is not None):
        return None
    # Both id lists are sorted: which rows stay, which are new and which left, by binary
    # search (set operations would hash a million ids, twice).
    kept, source = _find(previous.ids, ids)
    left = previous.ids[~_find(ids, previous.ids)[0]]
    changed = np.asarray(changed, np.int64)
    present, at = _find(ids, changed)
    dirty = ~kept  # new samples
    dirty[at[present]] = True  # moved ones
    arrived = ids[dirty].astype(np.int64)
    if len(arrived) > PATCH_MAX_ARRIVALS:
        return None
    touched = np.concatenate([arrived, left.astype(np.int64)])  # moved, new or gone
    table = _empty(index, version, generation, ids, k)
    # Rows kept from previous, copied (a new table: the server reads the old one until this
    # one is handed over).
    runs = _runs(np.flatnonzero(kept), source[kept])
    for name in ("neighbours", "numbers", "filled", "probes"):
        into, out_of = getattr(table, name), getattr(previous, name)
        if into is not None and out_of is not None:
            for row, was, length in runs:
                into[row:row + length] = out_of[was:was + length]
    if previous.wide:
        now, row_now = _find(ids, previous.ids[list(previous.wide)])
        for was, there, row in zip(previous.wide, now.tolist(), row_now.tolist()):
            if there:
                table.wide[row] = previous.wide[was]
    if len(touched):
        # Tested on previous's rows: copied into 32 bits, an id past them has wrapped.
        dirty[kept] |= _rows_holding(previous.neighbours, touched)[source[kept]]
    dirty |= _reached(table, arrived, dirty)
    if dirty.sum() > PATCH_MAX_SHARE * max(len(ids), 1):
        return None
    _fill(table, np.flatnonzero(dirty), should_stop)
    table.computed = int(dirty.sum())
    return table


PATCH_MAX_ARRIVALS = 5_000  # new or moved vectors a patch takes on; more: a build
PATCH_MAX_SHARE = 0.25  # rows a patch may recompute; more: a build
MARGIN = 1e-3  # combined distance: float rounding between FAISS's ranking and ours, and more


def _runs(rows: np.ndarray, source: np.ndarray) -> list[tuple[int, int, int]]:
    """(row, source row, length) of each run where both go up one at a time: the kept rows
    are copied a run at a time (a few runs: samples were added or removed here and there),
    a few block copies where fancy indexing gathered row by row."""
    if not len(rows):
        return []
    breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(source) != 1)) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(rows)]])
    return list(zip(rows[starts].tolist(), source[starts].tolist(), (ends - starts).tolist()))


def _find(sorted_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each wanted id is in sorted_ids, its position there where it is)."""
    if not len(sorted_ids):
        return np.zeros(len(wanted), bool), np.zeros(len(wanted), np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return sorted_ids[at] == wanted, at


def _reached(table: NeighbourTable, arrived: np.ndarray, dirty: np.ndarray) -> np.ndarray:
    """Rows (not dirty yet) where an arrived sample is visible and within the row's reach."""
    index = table.index
    out = np.zeros(len(table.ids), bool)
    if not len(arrived):
        return out
    with index.lock.reading():
        if index.version != table.version:
            raise IndexChanged("the index changed during a patch")
        came = index.vectors_of(arrived)
        homes = np.array([-1 if (home := index.list_of(int(i))) is None else home
                          for i in arrived.tolist()]) if table.probes is not None \
            else np.full(len(arrived), -1)
    # The farthest neighbour of each row; a row with fewer than k takes anything it sees,
    # and a wide row's kept numbers are clipped, so it takes anything too.
    reach = table.numbers[:, :, 1].max(axis=1).astype(np.float64) / SCALE
    reach[table.filled < table.k] = np.inf
    if table.wide:
        reach[list(table.wide)] = np.inf
    open_rows = np.flatnonzero(~dirty)
    # The rows whose search visits one of the arrivals' lists, found in one pass over the
    # kept lists (a pass per list cost 32 ms at 1M); then, per list, among those alone.
    if table.probes is not None:
        if not (homes < 0).any():  # (a list not known: every row is a candidate for it)
            open_rows = open_rows[_rows_holding(table.probes, homes, open_rows)]
        their_lists = table.probes[open_rows]
    for home in np.unique(homes).tolist():
        # The rows a search reaches this list from (every row for an exact index, or when
        # the list is unknown), then the arrivals in it, a few at a time.
        rows = open_rows if home < 0 or table.probes is None \
            else open_rows[(their_lists == home).any(axis=1)]
        arrivals = came[homes == home]
        for start in range(0, len(rows), CHUNK * 8):
            part = rows[start:start + CHUNK * 8]
            with index.lock.reading():
                if index.version != table.version:
                    raise IndexChanged("the index changed during a patch")
                theirs = index.vectors_of(table.ids[part].astype(np.int64))
            for first in range(0, len(arrivals), 16):
                group = arrivals[first:first + 16]
                distance = combined_distance(aspect_distances(group[:, None, :], theirs[None]),
                                             None)  # (arrivals, rows)
                out[part[(distance <= reach[part] + MARGIN).any(axis=0)]] = True
    return out


ROWS_AT_ONCE = 65_536  # rows tested together: bounds the temporaries of a test at 1M


def _rows_holding(values: np.ndarray, wanted: np.ndarray, rows: np.ndarray | None = None
                  ) -> np.ndarray:
    """For each row of values (or of values[rows]), whether it holds any of `wanted`: a
    lookup table over their range when it is small, a block of rows at a time."""
    wanted = np.asarray(wanted, np.int64)
    count = len(values) if rows is None else len(rows)
    out = np.zeros(count, bool)
    if not len(wanted) or not count:
        return out
    kind = "table" if int(wanted.max()) - int(wanted.min()) < 2**24 else None
    for start in range(0, count, ROWS_AT_ONCE):
        block = values[start:start + ROWS_AT_ONCE] if rows is None \
            else values[rows[start:start + ROWS_AT_ONCE]]
        out[start:start + len(block)] = np.isin(block, wanted, kind=kind).any(axis=1)
    return out


def _probe_width(index: VectorIndex) -> int:
    """The lists kept per sample: what VectorIndex.probed gives (none for an exact index)."""
    if index.info.kind != "ivf":
        return 0
    return min(index.info.nprobe + PROBE_SPARE, index.info.nlist)


PROBE_SPARE = 2  # lists kept past nprobe: a batch ranks near-tied lists unlike one search


def _state(index: VectorIndex) -> tuple[int, int, np.ndarray]:
    """(version, generation, sorted ids) of one state of the index. ids() takes the read
    lock itself: asked under it, a writer waiting in between would hang both (the lock is
    not reentrant, and a waiting writer goes first)."""
    with index.lock.reading():
        version, generation = index.version, index.info.generation
    ids = np.sort(index.ids())
    with index.lock.reading():
        if index.version != version:
            raise IndexChanged(f"the index changed (version {version} -> {index.version})")
    return version, generation, ids


def _empty(index: VectorIndex, version: int, generation: int, ids: np.ndarray,
           k: int) -> NeighbourTable:
    n = len(ids)
    id_type = np.int32 if n == 0 or int(ids[-1]) <= np.iinfo(np.int32).max else np.int64
    width = _probe_width(index)
    probes = None if not width else np.full(
        (n, width), -1, np.int16 if index.info.nlist < np.iinfo(np.int16).max else np.int32)
    return NeighbourTable(index, version, generation, ids.astype(id_type), np.zeros(n, np.uint8),
                          np.full((n, k), -1, id_type),
                          np.zeros((n, k, 2 + len(ASPECTS)), np.uint16), probes=probes)


def _fill(table: NeighbourTable, rows: np.ndarray, should_stop: Callable[[], bool] | None) -> None:
    """Compute these rows of the table from its index, as a live search answers for each."""
    index, version, k = table.index, table.version, table.k
    ids, neighbours, numbers, wide = table.ids, table.neighbours, table.numbers, table.wide
    for start in range(0, len(rows), CHUNK):
        if should_stop is not None and should_stop():
            raise IndexChanged("stopped")
        block = rows[start:start + CHUNK]
        chunk = ids[block].astype(np.int64)
        with index.lock.reading():
            if index.version != version:
                raise IndexChanged(f"the index changed (version {version} -> {index.version})")
            queries = index.vectors_of(chunk)
            want = min(k + 1, index.count)
            found = np.concatenate([index.index.search(queries[i:i + FAISS_BATCH], want)[1]
                                    for i in range(0, len(chunk), FAISS_BATCH)])
            found = _without_self(found, chunk)[:, :k]
            present = found >= 0
            # Absent neighbours (-1) stand in as the query itself; their numbers are unused.
            rows_of = index.vectors_of(np.where(present, found, chunk[:, None]).ravel())
            if table.probes is not None:
                table.probes[block] = index.probed(queries, spare=PROBE_SPARE)
        rows_of = rows_of.reshape(len(chunk), found.shape[1], -1)
        per_aspect = aspect_distances(queries[:, None, :], rows_of)
        combined = combined_distance(per_aspect, None).astype(np.float64)
        width = found.shape[1]
        neighbours[block] = -1
        neighbours[block, :width] = np.where(present, found, -1)
        scaled = np.zeros((len(chunk), k, numbers.shape[2]), np.int32)
        scaled[:, :width, 0] = _scaled(score(combined))
        scaled[:, :width, 1] = _scaled(combined)
        scaled[:, :width, 2:] = _scaled(per_aspect.astype(np.float64))
        numbers[block] = np.minimum(scaled, NARROW_MAX)
        for row in block.tolist():
            wide.pop(row, None)
        for offset in np.flatnonzero((scaled >= NARROW_MAX).any(axis=(1, 2))).tolist():
            wide[int(block[offset])] = scaled[offset].copy()
        table.filled[block] = present.sum(axis=1)


def _without_self(found: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each row with its own query's id taken out, the others keeping their order (a live
    search asks for one more and drops the query the same way)."""
    is_self = found == queries[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")  # False (others) first, in order
    out = np.take_along_axis(found, order, axis=1)
    out[np.take_along_axis(is_self, order, axis=1)] = -1
    return out


def _scaled(values: np.ndarray) -> np.ndarray:
    # np.round(x, 4) is rint(x * 10**4) / 10**4: dividing these integers by SCALE later
    # gives the very floats search.ranked reports.
    return np.rint(values * SCALE).astype(np.int32)
