"""Query pages and library figures answered like one-sample answers
(samplemind/server/query_cache.py): spliced pages equal Library.ls and Library.count, the
figures (/stats, /tags) follow writes by other processes, and a query returns the same rows
whatever the planner's statistics."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from samplemind import Library
from samplemind.server import ServerConfig, make_app
from tests.audio_fixtures import write_drum_hit
from tests.server_fixtures import build_catalog, copy_home

from helpers import set_statistics

pytestmark = pytest.mark.asyncio

QUERIES = ("", "type:oneshot", "type:loop sort:bpm-", "cat:kick,snare sort:lufs-",
           "sort:duration- limit:7", "-tag:* sort:name", "bpm:60..200 sort:bpm")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("queries"))


@pytest.fixture
def own_home(catalog: tuple[Path, Path], tmp_path: Path) -> Path:
    return copy_home(catalog[0], tmp_path / "own")


@pytest_asyncio.fixture
async def client(aiohttp_client, own_home: Path):
    return await aiohttp_client(make_app(own_home, config=ServerConfig(threads=2)))


async def pages(client, query: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every record of a query, a page at a time, and the total the first page gave."""
    records: list[dict[str, Any]] = []
    params = {"q": query, "limit": str(limit), "total": "true"}
    total = -1
    while True:
        response = await client.get("/api/v1/samples", params=params)
        assert response.status == 200, await response.text()
        page = await response.json()
        assert page["count"] == len(page["samples"])
        total = page.get("total", total)
        records += page["samples"]
        if page["next_cursor"] is None:
            return records, total
        params = {"q": query, "limit": str(limit), "cursor": page["next_cursor"]}


async def test_spliced_pages_equal_library_ls_field_for_field(client, own_home: Path):
    with Library(own_home) as library:
        expected = {query: ([s.to_json() for s in library.ls(query or None)],
                            library.count(query or None)) for query in QUERIES}
    assert any(len(records) > 3 for records, _ in expected.values())
    for round_ in range(2):  # the second round is answered from the kept pages
        for query in QUERIES:
            for limit in (3, 100):
                records, total = await pages(client, query, limit)
                assert records == expected[query][0], (round_, query, limit)
                assert total == expected[query][1]


async def test_a_page_follows_a_write_from_another_process(client, own_home: Path):
    first, _ = await pages(client, "tag:fresh", 10)
    assert first == []
    env = {**os.environ, "SAMPLEMIND_HOME": str(own_home)}
    subprocess.run([sys.executable, "-m", "samplemind", "tag", "add", "type:oneshot", "fresh"],
                   env=env, check=True, capture_output=True)
    with Library(own_home) as library:
        expected = [s.to_json() for s in library.ls("tag:fresh")]
    assert expected
    assert await wait_for(lambda: pages(client, "tag:fresh", 10),
                          lambda got: got[0] == expected and got[1] == len(expected))


async def wait_for(fetch, done, timeout: float = 60.0):
    """fetch() until done(result), with a generous ceiling (the suite runs on busy machines)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await fetch()
        if done(result) or time.monotonic() > deadline:
            return done(result)
        await asyncio.sleep(0.05)


def figures(home: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(stats, tags) as Library computes them from the catalog."""
    with Library(home) as library:
        return library.stats(), library.tags()


def same_stats(served: dict[str, Any], expected: dict[str, Any]) -> bool:
    # The total duration is a float sum: equal to the last rounding digit, not the bits.
    return ({**served, "duration": None} == {**expected, "duration": None}
            and served["duration"] == pytest.approx(expected["duration"], abs=0.002))


@pytest.mark.slow  # CLI processes and two scans
async def test_figures_follow_tags_corrections_scans_and_removals_from_another_process(
        client, own_home: Path, tmp_path: Path):
    env = {**os.environ, "SAMPLEMIND_HOME": str(own_home)}

    def cli(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "samplemind", *args], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    async def served() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        stats = await client.get("/api/v1/stats")
        tags = await client.get("/api/v1/tags")
        assert stats.status == 200 and tags.status == 200
        return await stats.json(), (await tags.json())["tags"]

    async def agrees() -> bool:
        expected = figures(own_home)
        return await wait_for(served, lambda got: same_stats(got[0], expected[0])
                              and got[1] == expected[1])

    assert await agrees()
    with Library(own_home) as library:
        kick = next(library.ls("cat:kick")).id
        loop = next(library.ls("type:loop")).id
    cli("tag", "add", "cat:kick", "punchy", "dark")
    assert await agrees()
    assert any(entry["tag"] == "punchy" for entry in (await served())[1])
    cli("tag", "rm", str(kick), "dark")
    assert await agrees()
    cli("set", str(loop), "category=snare", "type=oneshot")
    assert await agrees()
    folder = tmp_path / "more"
    folder.mkdir()
    for i, kind in enumerate(("kick", "snare", "hihat")):
        write_drum_hit(folder / f"new_{kind}_{i}.wav", kind, seed=40 + i)
    cli("scan", str(folder))
    assert await agrees()
    before = (await served())[0]["samples"]
    shutil.rmtree(folder)
    os.makedirs(folder)
    cli("scan", str(folder))  # the files are gone: their samples are removed
    assert await agrees()
    assert (await served())[0]["samples"] == before - 3




@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
async def test_a_query_returns_the_same_rows_under_every_statistics_state(own_home: Path, state):
    queries = (*QUERIES, "cat:kick limit:2", "type:oneshot sort:lufs- limit:4",
               "key:Am~ type:loop", "note:C1..C6", "tag:* sort:bpm-")
    with Library(own_home) as library:
        baseline = {query: [s.id for s in library.ls(query or None)] for query in queries}
        pages = {query: library.query_ids(query or None, limit=3, offset=1)[1]
                 for query in queries}
    set_statistics(own_home, state)
    with Library(own_home) as library:
        has = library.catalog.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert bool(has) == (state != "none")
        for query in queries:
            assert [s.id for s in library.ls(query or None)] == baseline[query], query
            assert [s.id for s in library.ls(query or None, limit=3, offset=1)] == pages[query]
            assert library.query_ids(query or None, limit=3, offset=1)[1] == pages[query]


async def test_a_page_asked_again_is_the_kept_one_until_the_catalog_moves(aiohttp_client,
                                                                          own_home: Path):
    from samplemind.server.context import CONTEXT

    app = make_app(own_home, config=ServerConfig(threads=2))
    client = await aiohttp_client(app)
    queries = app[CONTEXT].pool.queries
    params = {"q": "type:oneshot", "limit": "5", "total": "true"}
    first = await client.get("/api/v1/samples", params=params)
    again = await client.get("/api/v1/samples", params=params)
    assert await first.json() == await again.json()
    assert (queries.hits, queries.misses) == (1, 1)
    assert first.headers["ETag"] == again.headers["ETag"]
    with Library(own_home) as library:
        library.tag([next(library.ls("type:oneshot")).id], ["moved"])
    await asyncio.sleep(0.01)  # the record cache looks at the catalog at most once a millisecond
    third = await client.get("/api/v1/samples", params=params)
    assert queries.misses == 2
    assert "moved" in (await third.json())["samples"][0]["tags"]


async def test_facets_of_a_query_are_kept_until_the_catalog_moves(aiohttp_client, own_home: Path):
    """GET /facets?q= is counted once per query and catalog generation (query_cache.py) and
    equals Library.facets after tags, corrections and removals made by another process."""
    from samplemind.server.context import CONTEXT

    app = make_app(own_home, config=ServerConfig(threads=2))
    client = await aiohttp_client(app)
    queries = app[CONTEXT].pool.queries

    def counted(query: str) -> dict[str, Any]:
        with Library(own_home) as library:
            return library.facets(query)

    async def served(query: str) -> dict[str, Any]:
        response = await client.get("/api/v1/facets", params={"q": query})
        assert response.status == 200, await response.text()
        return await response.json()

    first = await served("type:oneshot")
    assert first == counted("type:oneshot")
    misses = queries.misses
    assert await served("type:oneshot") == first
    assert queries.misses == misses  # the kept answer
    with Library(own_home) as library:
        kick = next(library.ls("cat:kick")).id
        loop = next(library.ls("type:loop")).id
    env = {**os.environ, "SAMPLEMIND_HOME": str(own_home)}
    for args in (("tag", "add", "cat:kick", "boomy"), ("set", str(loop), "type=oneshot"),
                 ("set", str(kick), "category=snare")):
        subprocess.run([sys.executable, "-m", "samplemind", *args], env=env, check=True,
                       capture_output=True)
        expected = counted("type:oneshot")
        assert await wait_for(lambda: served("type:oneshot"), lambda got, want=expected: got == want), args
    with Library(own_home) as library:
        boomy = library.count("type:oneshot tag:boomy")
    assert boomy and {"tag": "boomy", "count": boomy} in (await served("type:oneshot"))["tags"]
    with Library(own_home) as library, library.catalog.transaction():
        library.catalog.delete_samples([kick])
    expected = counted("type:oneshot")
    assert await wait_for(lambda: served("type:oneshot"), lambda got: got == expected)
    bad = await client.get("/api/v1/facets", params={"q": "bmp:120"})
    assert bad.status == 400


async def test_a_question_asked_after_a_write_does_not_share_an_answer_begun_before_it():
    """QueryCache: identical questions share one answer only at one generation (found by
    review: a facets request sent after a PATCH got the counts begun before it)."""
    from samplemind.server.http import Body
    from samplemind.server.query_cache import QueryCache

    class Records:
        now = 5

        def generation(self) -> int:
            return self.now

    class Pool:
        def __init__(self) -> None:
            self.records, self.release, self.calls = Records(), asyncio.Event(), 0

        async def run(self, _function, _query):
            self.calls += 1
            counted_at = self.records.now
            await self.release.wait()
            return counted_at, Body.kept({"counted_at": counted_at})

    pool = Pool()
    cache = QueryCache(pool)
    first = asyncio.ensure_future(cache.facets("cat:kick"))
    same = asyncio.ensure_future(cache.facets("cat:kick"))
    await wait_for(lambda: asyncio.sleep(0, result=pool.calls), lambda calls: calls == 1)
    pool.records.now = 6  # a write committed
    second = asyncio.ensure_future(cache.facets("cat:kick"))
    await wait_for(lambda: asyncio.sleep(0, result=pool.calls), lambda calls: calls == 2)
    pool.release.set()
    assert json.loads((await first).raw) == json.loads((await same).raw) == {"counted_at": 5}
    assert json.loads((await second).raw) == {"counted_at": 6}
