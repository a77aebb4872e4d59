"""The one-sample answers the server keeps in memory (samplemind/server/record_cache.py):
never stale after the server's own writes or another process's, bounded in bytes, warmed
at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio

from samplemind import Library
from samplemind.server import ServerConfig, make_app
from samplemind.server.context import CONTEXT
from samplemind.server.record_cache import warm_up
from tests.server_fixtures import build_catalog, copy_home

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("record-cache"))


@pytest.fixture
def own_home(catalog: tuple[Path, Path], tmp_path: Path) -> Path:
    return copy_home(catalog[0], tmp_path / "own")


@pytest_asyncio.fixture
async def served(aiohttp_client, own_home: Path):
    """(client, record cache) over a private catalog copy."""

    async def make(**config):
        app = make_app(own_home, config=ServerConfig(**config))
        client = await aiohttp_client(app)
        return client, app[CONTEXT].pool.records

    return make


async def get(client, sample_id: int) -> dict:
    response = await client.get(f"/api/v1/samples/{sample_id}")
    assert response.status == 200
    return await response.json()


async def warmed(cache, home: Path, ceiling: float = 120.0) -> None:
    """Wait (a generous ceiling, never a speed check) until the start-up warm-up holds every
    record: after that no background read can put back an entry a test has just emptied."""
    with Library(home, jobs=1) as library:
        count = library.stats()["samples"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ceiling
    while len(cache.entries) < count and loop.time() < deadline:
        await asyncio.sleep(0.05)


def other_process(home: Path, action) -> None:
    """Run action(library) on a Library of its own, as a CLI command would."""
    with Library(home, jobs=1) as library:
        action(library)


@pytest.mark.slow
async def test_a_cached_answer_is_the_catalog_record(served, own_home: Path):
    client, cache = await served()
    first = await get(client, 1)
    again = await get(client, 1)
    with Library(own_home) as library:
        assert first == again == library.get(1).to_json()
    assert cache.hits >= 1 and 1 in cache.entries


@pytest.mark.slow
async def test_the_servers_own_writes_are_read_back_at_once(served):
    client, cache = await served()
    before = await get(client, 2)
    response = await client.patch("/api/v1/samples/2", json={"bpm": 131})
    assert response.status == 200
    assert (await get(client, 2))["bpm"] == 131 != before["bpm"]
    await client.post("/api/v1/tags", json={"ids": [2], "tags": ["night"]})
    assert "night" in (await get(client, 2))["tags"]
    assert cache.invalidations >= 2
    response = await client.delete("/api/v1/samples/2")
    assert response.status == 200
    assert (await client.get("/api/v1/samples/2")).status == 404


async def test_another_processes_writes_show_without_a_restart(served, own_home: Path):
    client, _ = await served()
    assert (await get(client, 3))["tags"] == []
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, other_process, own_home,
                               lambda library: library.tag([3], ["from-cli"]))
    await asyncio.sleep(0.01)  # the cache looks at the catalog at most once a millisecond
    assert (await get(client, 3))["tags"] == ["from-cli"]
    await loop.run_in_executor(None, other_process, own_home,
                               lambda library: library.set(3, {"key": "F# minor"}))
    await asyncio.sleep(0.01)
    assert (await get(client, 3))["key"] == "F# minor"

    def forget(library: Library) -> None:
        with library.catalog.transaction():
            library.catalog.delete_samples([3])

    await loop.run_in_executor(None, other_process, own_home, forget)
    await asyncio.sleep(0.01)
    assert (await client.get("/api/v1/samples/3")).status == 404


async def test_pruned_removals_empty_the_cache(served, own_home: Path):
    client, cache = await served()
    await warmed(cache, own_home)  # else the warm-up may still be adding records
    await get(client, 4)
    await get(client, 5)
    loop = asyncio.get_running_loop()

    def forget_and_prune(library: Library) -> None:
        with library.catalog.transaction():
            library.catalog.delete_samples([5])
        library.catalog.prune_removed(library.catalog.generation)

    await loop.run_in_executor(None, other_process, own_home, forget_and_prune)
    await asyncio.sleep(0.01)
    assert (await client.get("/api/v1/samples/5")).status == 404
    assert 4 not in cache.entries  # the feed could not say what went: everything went
    assert (await get(client, 4))["id"] == 4


async def test_the_cache_stays_within_its_budget(served):
    client, cache = await served(record_cache_mb=0.005)  # room for about three answers
    for sample_id in range(1, 11):
        await get(client, sample_id)
    assert 0 < len(cache.entries) < 10
    assert cache.bytes <= cache.max_bytes
    assert list(cache.entries)[-1] == 10  # the most recent stays


async def test_zero_turns_the_cache_off(served):
    client, cache = await served(record_cache_mb=0)
    await get(client, 1)
    await get(client, 1)
    assert not cache.entries and cache.hits == 0 and cache.misses == 2


async def test_warm_up_fills_newest_first_and_skips_a_moving_catalog(served, own_home: Path):
    client, cache = await served(record_cache_mb=0.01)
    with Library(own_home) as library:
        newest = max(sample.id for sample in library.ls())
    await warm_up(client.server.app[CONTEXT].pool)
    assert newest in cache.entries and cache.bytes <= cache.max_bytes
    before = len(cache.entries)
    assert before > 0
    hits = cache.hits
    await get(client, newest)
    assert cache.hits == hits + 1
    # Answers read at an older generation are not added.
    body = cache.entries[newest]
    cache.entries.clear()
    cache.bytes = 0
    await asyncio.get_running_loop().run_in_executor(
        None, other_process, own_home, lambda library: library.tag([newest], ["moved"]))
    cache.mark_dirty()
    assert cache.add_read_elsewhere([(newest, body)], generation=0) == 0
    assert "moved" in (await get(client, newest))["tags"]


async def test_gzip_and_etag_work_on_cached_answers(served):
    client, _ = await served()
    first = await client.get("/api/v1/samples/1")
    etag = first.headers["ETag"]
    cached = await client.get("/api/v1/samples/1", headers={"If-None-Match": etag})
    assert cached.status == 304
    zipped = await client.get("/api/v1/samples/1", headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200 and zipped.headers.get("Content-Encoding") == "gzip"
    assert await zipped.json() == await first.json()


async def test_metrics_count_hits_and_misses(served):
    client, _ = await served(record_cache_mb=1)
    # A write drops the sample's answer (warm-up may have cached it): read once, then kept.
    await client.patch("/api/v1/samples/1", json={"bpm": 97})
    await get(client, 1)
    await get(client, 1)
    text = await (await client.get("/metrics")).text()
    figures = dict(line.split(" ") for line in text.splitlines()
                   if line.startswith("samplemind_record_cache_"))
    assert float(figures["samplemind_record_cache_hits_total"]) >= 1
    assert float(figures["samplemind_record_cache_misses_total"]) >= 1


@pytest.mark.parametrize("cache_mb, k", [(128, 10), (0, 10), (0, 40)])
async def test_similar_answers_spliced_from_cached_records_equal_librarys(served, own_home: Path,
                                                                        cache_mb, k):
    # 128: every hit cached; 0 with k=10: read on the loop; 0 with k=40: too many to read
    # on the loop, answered from a worker thread. All three say the same as Library.similar.
    client, _ = await served(record_cache_mb=cache_mb)
    await client.patch("/api/v1/samples/2", json={"bpm": 99})  # a changed record shows
    response = await client.get("/api/v1/samples/1/similar", params={"k": str(k)})
    data = await response.json()
    with Library(own_home) as library:
        hits = [hit.to_json() for hit in library.similar([1], k=k)]
    assert data == {"schema_version": 1, "id": 1, "hits": hits}  # the patched record too
    zipped = await client.get("/api/v1/samples/1/similar", params={"k": str(k)},
                              headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("Content-Encoding") == "gzip" and await zipped.json() == data


async def test_a_similar_answer_mixing_cached_uncached_and_gone_hits(catalog: tuple[Path, Path]):
    """The uncached hits are read (together) and kept; a hit no longer in the catalog is left
    out; the order is the hits' order."""
    import orjson

    from samplemind.server.record_cache import RecordCache

    home = catalog[0]
    cache = RecordCache(Library(home))
    try:
        cache.body(3)
        cache.body(1)
        hits = [(2, b'{"score":0.9}'), (999_999, b'{"score":0.8}'), (1, b'{"score":0.7}'),
                (4, b'{"score":0.6}'), (3, b'{"score":0.5}')]
        misses = cache.misses
        body = cache.hits_body({"id": 5}, hits)
        data = orjson.loads(body.raw)
        assert [hit["id"] for hit in data["hits"]] == [2, 1, 4, 3]
        assert [hit["score"] for hit in data["hits"]] == [0.9, 0.7, 0.6, 0.5]
        records = {r["id"]: r for r in cache.library.records_by_id([1, 2, 3, 4])}
        for hit in data["hits"]:
            assert {k: v for k, v in hit.items() if k != "score"} == records[hit["id"]]
        assert cache.misses == misses + 3 and {2, 4} <= set(cache.entries)
        assert 999_999 not in cache.entries
    finally:
        cache.library.close()


async def test_near_full_the_least_recently_used_answer_goes_first(catalog: tuple[Path, Path]):
    from samplemind.server.record_cache import ENTRY_OVERHEAD, RecordCache

    home = catalog[0]
    probe = RecordCache(Library(home), 0)
    sizes = {sample_id: len(probe.body(sample_id).raw) + ENTRY_OVERHEAD
             for sample_id in (1, 2, 3, 4)}
    probe.library.close()
    # Room for three answers: 1, 2, 3 fill it; 1 is asked again; 4 pushes out 2, not 1.
    cache = RecordCache(Library(home),
                        sizes[1] + sizes[2] + sizes[3] + 100)
    for sample_id in (1, 2, 3, 1, 4):
        cache.body(sample_id)
    assert list(cache.entries) == [3, 1, 4]
    cache.library.close()
