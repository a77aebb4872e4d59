"""The table of every sample's nearest neighbours (samplemind/similarity/neighbours.py) and
the server keeping it current (samplemind/server/neighbour_keeper.py): its answers are
search.ranked's, bit for bit, and never stale."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from pathlib import Path

import numpy as np
import orjson
import pytest
import pytest_asyncio

from samplemind import Library
from samplemind.analysis.layout import VECTOR_DIM
from samplemind.server import ServerConfig, make_app
from samplemind.server.context import CONTEXT
from samplemind.similarity import neighbours, search
from samplemind.similarity.index import VectorIndex
from tests.server_fixtures import build_catalog, copy_home

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (40, VECTOR_DIM))
    return (centres[rng.integers(0, 40, n)] + rng.normal(0, 1, (n, VECTOR_DIM))).astype(np.float32)


def _live(index: VectorIndex, sample_id: int, k: int) -> list[search.Ranked]:
    return search.ranked(index, [sample_id], k=k, aspects=None, allowed=None)


@pytest.mark.parametrize("exact_max", [10**9, 500], ids=["flat", "ivf"])
def test_every_row_is_what_a_live_search_answers(exact_max):
    ids = np.arange(5, 2005, dtype=np.int64) * 3  # ids need not be dense
    index = VectorIndex.build(ids, _clustered(2000), generation=4, exact_max=exact_max)
    table = neighbours.build(index)
    assert table.generation == 4 and table.version == index.version and table.k == 16
    assert list(table.ids) == sorted(ids)
    for sample_id in ids.tolist():
        for k in (1, 10, 16):
            assert table.ranked(sample_id, k) == _live(index, sample_id, k)
    assert table.ranked(int(ids[0]), 17) is None  # more than it holds: search live
    assert table.ranked(1, 10) is None  # not in the index
    probes = 0 if table.probes is None else table.probes.shape[1]
    assert table.nbytes <= neighbours.estimated_bytes(len(ids), probes=probes)


@pytest.mark.parametrize("narrow_max", [neighbours.NARROW_MAX, 9000], ids=["16-bit", "some-wide"])
def test_rows_in_16_bits_and_wide_rows_answer_as_a_live_search(monkeypatch, narrow_max):
    """Numbers are kept in 16 bits; a row with a value past that keeps 32 bits apart. Clipped
    standard scores keep every distance under 6 (16 bits), so the wide rows are made here by
    lowering the limit to 0.9."""
    monkeypatch.setattr(neighbours, "NARROW_MAX", narrow_max)
    index = VectorIndex.build(np.arange(1, 1201, dtype=np.int64), _clustered(1200, seed=5),
                              generation=1)
    table = neighbours.build(index)
    assert table.numbers.dtype == np.uint16 and table.neighbours.dtype == np.int32
    if narrow_max == neighbours.NARROW_MAX:
        assert table.wide == {}
    else:
        assert 0 < len(table.wide) < len(table.ids)
        assert all((numbers >= narrow_max).any() for numbers in table.wide.values())
    wide = [int(table.ids[row]) for row in list(table.wide)[:40]]
    narrow = [int(i) for row, i in enumerate(table.ids) if row not in table.wide][:40]
    for sample_id in wide + narrow:
        for k in (1, 16):
            live = _live(index, sample_id, k)
            assert table.ranked(sample_id, k) == live
            encoded = table.encoded(sample_id, k)
            assert [hit_id for hit_id, _ in encoded] == [hit.id for hit in live]
            assert [orjson.loads(fields) for _, fields in encoded] == [hit.fields() for hit in live]
    assert table.nbytes == neighbours.estimated_bytes(len(table.ids)) - 16 * len(table.ids) \
        + table.row_of.nbytes + sum(a.nbytes for a in table.wide.values())


class _VectorLog:
    """What patch() reads of a catalog: the ids whose vector changed or left since a
    generation (here, one step of changes), and whether removals were forgotten."""

    def __init__(self, changed, removed, pruned_through=0):
        self.changed, self.removed, self.pruned_through = changed, removed, pruned_through

    def vector_changes(self, since):
        return list(self.changed), list(self.removed)

    def oldest_removal_kept(self):
        return self.pruned_through

    def snapshot(self):
        return contextlib.nullcontext()


@pytest.mark.parametrize("exact_max", [10**9, 500], ids=["flat", "ivf"])
def test_a_patched_table_is_what_live_searches_answer_after_adds_moves_and_removals(exact_max):
    rng = np.random.default_rng(7)
    raw = _clustered(3010, seed=6)
    ids = np.arange(1, 3011, dtype=np.int64) * 2
    index = VectorIndex.build(ids[:3000], raw[:3000], generation=1, exact_max=exact_max)
    table = neighbours.build(index)
    assert (table.probes is not None) == (exact_max == 500)
    added = ids[3000:3006]  # new samples, near the others (a scan of a few files)
    moved = rng.choice(ids[:3000], 4, replace=False)
    removed = np.setdiff1d(rng.choice(ids[:3000], 3, replace=False), moved)
    new_raw = np.concatenate([raw[3000:3006], _clustered(4, seed=8)])
    index.update(np.concatenate([added, moved]), new_raw, removed, generation=2)
    log = _VectorLog([*added.tolist(), *moved.tolist()], removed.tolist())
    patched = neighbours.patch(table, log)
    assert patched is not None and patched.version == index.version
    assert 0 < patched.computed < len(patched.ids) // 4  # only the rows a change can reach
    assert list(patched.ids) == sorted(np.setdiff1d(np.union1d(ids[:3000], added), removed))
    for sample_id in patched.ids.tolist():
        assert patched.ranked(sample_id, 16) == _live(index, sample_id, 16), sample_id
    for sample_id in removed.tolist():
        assert patched.ranked(sample_id, 10) is None
    # Removals forgotten since the table: it cannot tell which, so it is built anew.
    assert neighbours.patch(table, _VectorLog([], [], pruned_through=5)) is None


@pytest.mark.parametrize("step", ["build", "patch"])
def test_a_change_arriving_while_the_table_reads_the_ids_waits_for_it(monkeypatch, step):
    """The read lock is not reentrant and a waiting writer goes first: reading the index's
    ids (which takes the read lock) inside its read lock would hang both for good."""
    raw = _clustered(700, seed=4)
    index = VectorIndex.build(np.arange(1, 701, dtype=np.int64), raw[:700], generation=1)
    table = neighbours.build(index)
    list_ids = index.ids

    def ids_as_a_change_arrives():
        # A scan's update arrives just now: it waits for the readers there are.
        update = threading.Thread(target=index.update, daemon=True, args=(
            np.array([5], np.int64), raw[6:7], np.zeros(0, np.int64), 2))
        update.start()
        while update.is_alive() and not index.lock._writers_waiting:
            threading.Event().wait(0.001)
        return list_ids()

    monkeypatch.setattr(index, "ids", ids_as_a_change_arrives)
    run = (lambda: neighbours.build(index)) if step == "build" else \
        (lambda: neighbours.patch(table, _VectorLog([], [])))
    outcome = []

    def attempt():
        try:
            outcome.append(run())
        except neighbours.IndexChanged as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)  # a guard against hanging the suite, not a time limit on the work
    assert not worker.is_alive(), "deadlock: the table holds the read lock the update waits on"
    with index.lock.reading():  # and the update went through
        assert index.version == 1


def test_a_patch_after_an_id_past_32_bits_left_recomputes_the_rows_that_had_it():
    # The table holds ids in 64 bits while one needs them; once it is gone, in 32 bits.
    raw = _clustered(600, seed=2)
    big = 2**31 + 5
    ids = np.append(np.arange(1, 600, dtype=np.int64), big)
    index = VectorIndex.build(ids, raw, generation=1)
    table = neighbours.build(index)
    assert table.neighbours.dtype == np.int64 and (table.neighbours == big).any()
    index.update(np.zeros(0, np.int64), np.zeros((0, VECTOR_DIM), np.float32),
                 np.array([big], np.int64), generation=2)
    patched = neighbours.patch(table, _VectorLog([], [big]))
    assert patched is not None
    for sample_id in patched.ids.tolist():
        assert patched.ranked(sample_id, 16) == _live(index, sample_id, 16), sample_id


def test_a_library_smaller_than_k():
    index = VectorIndex.build(np.arange(1, 6, dtype=np.int64), _clustered(5), generation=1)
    table = neighbours.build(index)
    for sample_id in range(1, 6):
        found = table.ranked(sample_id, 10)
        assert len(found) == 4 and sample_id not in [hit.id for hit in found]
        assert found == _live(index, sample_id, 10)


def test_copies_of_one_sound_get_the_same_distances_as_a_live_search():
    # Exact copies tie; which copy sits at the edge of k may differ, the distances may not.
    raw = _clustered(300, seed=3)
    raw[100:110] = raw[0]
    index = VectorIndex.build(np.arange(300, dtype=np.int64), raw, generation=1)
    table = neighbours.build(index)
    for sample_id in (0, 100, 105, 200):
        for k in (3, 10):
            got, live = table.ranked(sample_id, k), _live(index, sample_id, k)
            assert [h.distance for h in got] == [h.distance for h in live]
            assert sample_id not in [hit.id for hit in got]
    assert [hit.distance for hit in table.ranked(0, 9)] == [0.0] * 9


def test_a_change_to_the_index_during_a_build_is_noticed():
    raw = _clustered(1500, seed=4)
    index = VectorIndex.build(np.arange(1500, dtype=np.int64), raw, generation=1)
    before = index.version
    index.update(np.zeros(0, np.int64), np.zeros((0, VECTOR_DIM), np.float32),
                 np.zeros(0, np.int64), generation=2)
    assert index.version == before  # nothing added or removed: the same vectors

    def change_once() -> bool:
        if index.version == before:
            index.update(np.array([99_999]), raw[:1], np.array([7]), generation=3)
        return False

    with pytest.raises(neighbours.IndexChanged):
        neighbours.build(index, should_stop=change_once)
    assert index.version == before + 1
    table = neighbours.build(index)  # built again, it has the change
    assert 7 not in table.ids and 99_999 in table.ids
    assert table.ranked(0, 10) == _live(index, 0, 10)


# -- the server -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("neighbours"))


@pytest_asyncio.fixture
async def served(aiohttp_client, catalog: tuple[Path, Path], tmp_path: Path):
    home = copy_home(catalog[0], tmp_path / "own")
    app = make_app(home, config=ServerConfig())
    client = await aiohttp_client(app)
    return client, app[CONTEXT], home


def test_library_neighbour_table_rebuilds_only_when_a_vector_moved(catalog, tmp_path: Path):
    """Library.neighbour_table, the server's one door to the table: the same rows again when
    only tags changed, new rows after a vector changed, none past max_bytes."""
    home = copy_home(catalog[0], tmp_path / "own")
    with Library(home) as library:
        table = library.neighbour_table(max_bytes=10**9)
        assert table is not None and len(table.ids) == library.count()
        first = int(table.ids[0])
        assert table.encoded(first, 5) is not None
        assert library.neighbour_table(max_bytes=neighbours.estimated_bytes(len(table.ids)) - 1) is None
        library.tag([first], ["moved-no-vector"])
        again = library.neighbour_table(table, max_bytes=10**9)
        assert again is not None and again.ids is table.ids
        assert again.generation == library.changes.generation() > table.generation
        library.forget(first)  # a vector leaves the index
        rebuilt = library.neighbour_table(again, max_bytes=10**9)
        assert rebuilt is not None and rebuilt.ids is not table.ids
        assert first not in rebuilt.ids.tolist() and len(rebuilt.ids) == len(table.ids) - 1


async def _until(condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition did not hold in time")


async def _similar(client, sample_id: int, k: int = 10) -> list[dict]:
    response = await client.get(f"/api/v1/samples/{sample_id}/similar", params={"k": str(k)})
    assert response.status == 200
    return (await response.json())["hits"]


def _library_hits(home: Path, sample_id: int, k: int = 10) -> list[dict]:
    with Library(home) as library:
        return [hit.to_json() for hit in library.similar([sample_id], k=k)]


@pytest.mark.asyncio
async def test_the_server_answers_from_the_table_and_keeps_it_current(served, catalog):
    client, ctx, home = served
    keeper = ctx.neighbours
    await _until(lambda: keeper.table is not None)
    table = keeper.table
    hits_before = keeper.hits
    assert await _similar(client, 1) == _library_hits(home, 1)
    assert keeper.hits == hits_before + 1  # looked up, not searched

    # A tag edit moves the catalog but no vector: the same rows, marked current again.
    await client.post("/api/v1/tags", json={"ids": [2], "tags": ["night"]})
    assert await _similar(client, 1) == _library_hits(home, 1)  # the new tag shows at once
    await _until(lambda: keeper.table is not None and keeper.table.generation
                 == ctx.pool.records.generation())
    assert keeper.table.neighbours is table.neighbours and keeper.builds == 1

    # Another process scans in a copy of sample 1's file: the table is brought up to date
    # (built again: in a library this small the new vector reaches more rows than a patch
    # takes on) and the copy is sample 1's nearest neighbour, at distance 0.
    with Library(home) as library:
        source = Path(library.get(1).path)
    folder = home.parent / "copies"
    folder.mkdir()
    shutil.copy2(source, folder / "copy.wav")
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: Library(home, jobs=1).scan([folder]))
    await _until(lambda: keeper.builds + keeper.patches == 2 and keeper.table.generation
                 == ctx.pool.records.generation())
    hits_before = keeper.hits
    hits = await _similar(client, 1)
    assert keeper.hits == hits_before + 1
    assert hits == _library_hits(home, 1)
    assert hits[0]["path"].endswith("copy.wav") and hits[0]["distance"] == 0.0

    # Other questions are searched live, and say the same as the library.
    response = await client.get("/api/v1/samples/1/similar",
                                params={"k": "5", "aspect": "timbre=2"})
    with Library(home) as library:
        live = [hit.to_json() for hit in library.similar([1], k=5, aspects="timbre=2")]
    assert (await response.json())["hits"] == live
    assert (await client.get("/api/v1/samples/999999/similar")).status == 404

    metrics = await (await client.get("/metrics")).text()
    figures = dict(line.rsplit(" ", 1) for line in metrics.splitlines()
                   if line.startswith("samplemind_neighbour_table"))
    assert float(figures["samplemind_neighbour_table_hits_total"]) >= 2
    assert float(figures["samplemind_neighbour_table_samples"]) == len(keeper.table.ids)


@pytest.mark.asyncio
async def test_an_index_rebuilt_at_the_same_generation_gets_a_table_of_its_own(served):
    """`index rebuild` makes a new index object at the same catalog generation: the table of
    the old one no longer answers; one of the new one is built."""
    client, ctx, home = served
    keeper = ctx.neighbours
    await _until(lambda: keeper.table is not None)
    old = keeper.table
    generation = ctx.pool.records.generation()
    await asyncio.get_running_loop().run_in_executor(None, ctx.pool.index.rebuild)
    assert ctx.pool.index.loaded is not old.index
    assert ctx.pool.records.generation() == generation  # the catalog did not move
    misses = keeper.misses
    assert await _similar(client, 1) == _library_hits(home, 1)  # searched live, right
    assert keeper.misses == misses + 1
    await _until(lambda: keeper.table is not None and keeper.table.index is ctx.pool.index.loaded)
    hits = keeper.hits
    assert await _similar(client, 1) == _library_hits(home, 1)
    assert keeper.hits == hits + 1


@pytest.mark.asyncio
async def test_a_similar_answers_etag_follows_its_hits_records(served):
    client, ctx, _ = served
    await _until(lambda: ctx.neighbours.table is not None)
    first = await client.get("/api/v1/samples/1/similar")
    etag = first.headers["ETag"]
    again = await client.get("/api/v1/samples/1/similar", headers={"If-None-Match": etag})
    assert again.status == 304
    hit = (await first.json())["hits"][3]["id"]
    await client.post("/api/v1/tags", json={"ids": [hit], "tags": ["changed"]})
    changed = await client.get("/api/v1/samples/1/similar", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "changed" in (await changed.json())["hits"][3]["tags"]


@pytest.mark.parametrize("exact_max", [10**9, 500], ids=["flat", "ivf"])
def test_encoded_hits_are_the_json_of_the_ranked_ones(exact_max):
    from samplemind.server.http import encode

    index = VectorIndex.build(np.arange(1200, dtype=np.int64), _clustered(1200, seed=5),
                              generation=1, exact_max=exact_max)
    table = neighbours.build(index)
    for sample_id in range(1200):
        ranked = table.ranked(sample_id, 12)
        assert table.encoded(sample_id, 12) == [(hit.id, encode(hit.fields())) for hit in ranked]
    assert table.encoded(5, 17) is None and table.encoded(99_999, 3) is None
    # Numbers of 10 and more are not encoded ahead; they still come out as orjson writes them.
    for numbers in ([0, 10_000, 0, 1, 99_999, 100_000, 123_456], [250_000, 3_846, 7, 70,
                                                                 700, 7_000, 70_000]):
        score, distance, *aspects = (n / neighbours.SCALE for n in numbers)
        ranked = search.Ranked(1, score, distance, dict(zip(search.ASPECTS, aspects)))
        assert neighbours._fields_json(numbers) == encode(ranked.fields())


@pytest.mark.asyncio
async def test_a_burst_of_vector_changes_builds_the_table_once(served, monkeypatch):
    # A scan commits every half second: the table waits for the catalog to rest.
    from samplemind.server import neighbour_keeper

    monkeypatch.setattr(neighbour_keeper, "QUIET_SECONDS", 2.0)
    client, ctx, home = served
    keeper = ctx.neighbours
    await _until(lambda: keeper.table is not None)
    samples = len(keeper.table.ids)
    loop = asyncio.get_running_loop()

    def forget(sample_id: int) -> None:
        with Library(home) as library, library.catalog.transaction():
            library.catalog.delete_samples([sample_id])

    for sample_id in (3, 4, 5, 6, 7):
        await loop.run_in_executor(None, forget, sample_id)
        await asyncio.sleep(0.1)  # the watcher sees each move (the server's own poller)
        keeper.refresh()
    await _until(lambda: keeper.table.generation == ctx.pool.records.generation())
    assert keeper.builds == 2 and len(keeper.table.ids) == samples - 5
    assert await _similar(client, 1) == _library_hits(home, 1)


def test_the_numbers_encoded_ahead_hold_no_spare_memory():
    # orjson's bytes carry spare capacity (KBs): 100,000 of them took 400 MB of the server.
    import os

    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss()
    kept = neighbours._encoded_numbers.__wrapped__()  # made afresh, not the cached list
    grown = rss() - before
    assert len(kept) == neighbours._NUMBERS_KEPT and kept[12345] == b"1.2345"
    assert grown < 50 * 2**20, f"{grown / 2**20:.0f} MB for {len(kept):,} numbers"


@pytest.mark.asyncio
async def test_a_library_without_vectors_has_no_table_and_is_not_asked_again(aiohttp_client,
                                                                            tmp_path: Path):
    app = make_app(tmp_path / "empty", config=ServerConfig())
    client = await aiohttp_client(app)
    keeper = app[CONTEXT].neighbours
    await _until(lambda: keeper._task is not None and keeper._task.done())
    task = keeper._task
    for _ in range(3):
        assert (await client.get("/api/v1/samples/1/similar")).status == 404
    assert keeper.table is None and keeper.builds == 0
    assert keeper._task is task  # the same catalog: no new attempt per request
