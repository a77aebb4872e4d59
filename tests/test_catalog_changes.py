"""The catalog change feed: sample_changes (kept by triggers), changes_since, and the
server's events built on it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from samplemind import Library

from helpers import write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


def _changed_at(library: Library, sample_id: int) -> int:
    return int(library.catalog.scalar(
        "SELECT generation FROM sample_changes WHERE sample_id = ?", [sample_id]))


@pytest.fixture
def scanned(library: Library, tmp_path: Path) -> tuple[Library, list[Path]]:
    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    return library, paths


def test_insert_records_the_generation_it_commits_as(scanned) -> None:
    library, paths = scanned
    generation = library.catalog.generation
    ids = [library.get(str(p)).id for p in paths]
    assert all(1 <= _changed_at(library, i) <= generation for i in ids)
    assert library.catalog.count() == library.catalog.scalar("SELECT count(*) FROM sample_changes")


def test_set_tag_untag_move_and_reanalysis_each_move_it(scanned, tmp_path: Path) -> None:
    library, paths = scanned
    catalog = library.catalog
    first, second = library.get(str(paths[0])).id, library.get(str(paths[1])).id

    def moved_only(action, commits: int = 1) -> None:
        before = catalog.generation
        other = _changed_at(library, second)
        action()
        assert catalog.generation == before + commits
        assert _changed_at(library, first) == before + commits
        assert _changed_at(library, second) == other
        assert catalog.changes_since(before) == (before + commits, [first], [])

    moved_only(lambda: library.set(first, {"bpm": 123}))  # resolved fields + override
    moved_only(lambda: library.set(first, {"bpm": None}))  # override cleared
    moved_only(lambda: library.tag([first], ["fresh"]))
    moved_only(lambda: library.tag([first], ["fresh"], remove=True))
    target = tmp_path / "lib" / "Moved" / "renamed.wav"
    target.parent.mkdir()
    shutil.move(paths[0], target)
    # A move keeps the id. The new name gives no category, so two commits: the scan's, then
    # the sound consensus refining the sound's own guess (similarity/consensus.py).
    moved_only(lambda: library.scan([tmp_path / "lib"]), commits=2)
    assert library.get(str(target)).id == first
    write_hit(target, freq=440, seconds=0.9, seed=99)
    moved_only(lambda: library.scan([tmp_path / "lib"]), commits=2)  # re-analysis (+ consensus)


def test_a_follower_past_every_forgotten_removal_reads_only_the_changes(scanned,
                                                                       tmp_path: Path) -> None:
    """Saving the vector index forgets the removals it applied, and the feed then lists every
    id to a follower that may have missed one; a follower behind the saved index but past
    every removal forgotten (the server's events one scan behind) reads only what changed."""
    library, paths = scanned
    catalog, feed = library.catalog, library.changes
    library.index.current()
    start = catalog.generation
    write_hit(tmp_path / "lib" / "new.wav", freq=330, seconds=0.3, seed=5)
    library.scan([tmp_path / "lib"])
    library.index.current()  # saved at the generation now, the change log pruned through it
    new = library.get(str(tmp_path / "lib" / "new.wav")).id
    generation, changed, removed, everyone = feed.since(start)
    assert (generation, removed, everyone) == (catalog.generation, [], None)
    assert new in changed
    assert feed.vectors_unchanged_since(start) is None  # a vector was added after it
    # A removal, applied by the saved index and forgotten: a follower from before it cannot
    # tell what went from the log, and gets every id; one from after it reads the changes.
    gone = library.get(str(paths[0])).id
    paths[0].unlink()
    before_removal = catalog.generation
    assert library.scan([tmp_path / "lib"]).removed == 1
    library.index.current()
    assert catalog.scalar("SELECT count(*) FROM removed") == 0
    forgotten = catalog.oldest_removal_kept()
    assert before_removal < forgotten <= catalog.generation
    *_, everyone = feed.since(before_removal)
    assert everyone is not None and gone not in everyone and new in everyone
    library.tag([new], ["after"])
    _, changed, removed, everyone = feed.since(forgotten)
    assert (removed, everyone) == ([], None) and new in changed


def test_no_op_writes_do_not_move_it(scanned, tmp_path: Path) -> None:
    library, paths = scanned
    library.tag([str(paths[0])], ["kept"])
    before = library.catalog.generation
    marks = library.catalog.query("SELECT sample_id, generation FROM sample_changes ORDER BY 1")
    library.scan([tmp_path / "lib"])  # nothing changed on disk
    library.tag([str(paths[0])], ["kept"])  # already tagged
    library.tag([str(paths[1])], ["never-there"], remove=True)  # not tagged
    assert library.catalog.query("SELECT sample_id, generation FROM sample_changes ORDER BY 1") \
        == marks
    _, changed, removed = library.catalog.changes_since(before)
    assert (changed, removed) == ([], [])


def test_changes_since_returns_exactly_the_changed_and_removed(scanned, tmp_path: Path) -> None:
    library, paths = scanned
    catalog = library.catalog
    ids = [library.get(str(p)).id for p in paths]
    start = catalog.generation
    assert catalog.changes_since(start) == (start, [], [])
    library.tag([ids[2]], ["x"])
    paths[0].unlink()
    write_hit(tmp_path / "lib" / "new.wav", freq=330, seconds=0.3, seed=5)
    library.scan([tmp_path / "lib"])
    new = library.get(str(tmp_path / "lib" / "new.wav")).id
    current, changed, removed = catalog.changes_since(start)
    assert current == catalog.generation
    assert changed == sorted({ids[2], new})
    # The scan's sound consensus brought the vector index up to date, and a saved index
    # prunes the removals it applied: the feed then says so instead of listing them.
    assert removed == [] and catalog.oldest_removal_kept() > start
    assert catalog.scalar("SELECT count(*) FROM samples WHERE id = ?", [ids[0]]) == 0
    # Without an index catching up in between, a removal is listed.
    mark = catalog.generation
    with catalog.transaction():
        catalog.delete_samples([ids[2]])
    assert catalog.changes_since(mark) == (mark + 1, [], [ids[2]])
    # Only what happened after a later position.
    middle = current
    library.tag([ids[1]], ["y"])
    assert catalog.changes_since(middle)[1:] == ([ids[1]], [ids[2]])
    assert catalog.scalar("SELECT count(*) FROM sample_changes WHERE sample_id = ?", [ids[0]]) == 0


def test_changes_since_uses_the_index(library: Library) -> None:
    plan = " ".join(str(row) for row in library.catalog.query(
        "EXPLAIN QUERY PLAN SELECT sample_id FROM sample_changes WHERE generation > ?", [0]))
    assert "sample_changes_generation" in plan


# -- the server's feed -------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_server_emits_updated_for_a_tag_written_by_another_library(
        aiohttp_client, library: Library, samplemind_home: Path, tmp_path: Path) -> None:
    from samplemind.server import ServerConfig, make_app

    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    ids = [library.get(str(p)).id for p in paths]
    library.close()
    client = await aiohttp_client(make_app(samplemind_home,
                                           config=ServerConfig(poll_interval=0.1)))
    ws = await client.ws_connect("/api/v1/ws")
    assert (await ws.receive_json())["type"] == "hello"

    def cli_tag() -> None:
        with Library(samplemind_home, jobs=1) as other:  # a terminal, as far as the server knows
            other.tag([ids[1]], ["from-cli"])

    await asyncio.get_running_loop().run_in_executor(None, cli_tag)
    async with asyncio.timeout(30):
        while (message := await ws.receive_json())["type"] != "samples.updated":
            assert not message["type"].startswith("samples."), message
    assert message["data"]["ids"] == [ids[1]]
    assert message["data"]["generation"] >= 1
    await ws.close()


@pytest.mark.asyncio
async def test_server_announces_another_processes_commit_without_waiting_for_its_poll(
        aiohttp_client, library: Library, samplemind_home: Path, tmp_path: Path) -> None:
    """The poller looks at the WAL's shared memory for a commit by anyone every QUICK_LOOK:
    a file scanned in by another process is announced even when the server would read the
    generation only once an hour, and again (a tag) after that."""
    from samplemind.server import ServerConfig, make_app

    write_library(tmp_path / "lib", 2)
    library.scan([tmp_path / "lib"])
    library.close()
    client = await aiohttp_client(make_app(samplemind_home,
                                           config=ServerConfig(poll_interval=3600)))
    ws = await client.ws_connect("/api/v1/ws")
    assert (await ws.receive_json())["type"] == "hello"

    def cli(action) -> int:
        with Library(samplemind_home, jobs=1) as other:  # a terminal, as far as the server knows
            return action(other)

    def scan_one(other: Library) -> int:
        write_hit(tmp_path / "lib" / "new.wav", freq=330, seconds=0.3, seed=5)
        assert other.scan([tmp_path / "lib"]).added == 1
        return other.get(str(tmp_path / "lib" / "new.wav")).id

    def tag_it(other: Library) -> int:
        other.tag([new], ["from-cli"])
        return new

    loop = asyncio.get_running_loop()
    new = 0
    for action, kind in ((scan_one, "samples.added"), (tag_it, "samples.updated")):
        new = await loop.run_in_executor(None, cli, action)
        async with asyncio.timeout(60):  # a generous ceiling, far below the hour
            while (message := await ws.receive_json())["type"] != kind:
                pass
        assert new in message["data"]["ids"]
    await ws.close()


@pytest.mark.asyncio
async def test_server_resyncs_when_removals_were_pruned_past_its_position(
        aiohttp_client, library: Library, samplemind_home: Path, tmp_path: Path) -> None:
    from samplemind.server import ServerConfig, make_app

    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    gone = library.get(str(paths[0])).id
    library.close()
    app = make_app(samplemind_home, config=ServerConfig(poll_interval=0.1))
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.receive_json()  # hello

    def cli_remove_and_prune() -> None:
        with Library(samplemind_home, jobs=1) as other:
            paths[0].unlink()
            other.scan([tmp_path / "lib"])
            other.catalog.prune_removed(other.catalog.generation)  # the index applied it

    await asyncio.get_running_loop().run_in_executor(None, cli_remove_and_prune)
    async with asyncio.timeout(30):
        while (message := await ws.receive_json())["type"] != "samples.removed":
            pass
    assert message["data"]["ids"] == [gone]
    await ws.close()


def test_losing_the_race_to_record_a_migration_is_waited_out(tmp_path: Path, monkeypatch):
    # Two processes opening one new catalog both apply a migration; the second's record
    # of it fails (UNIQUE): it waits and opens the catalog the first one migrated.
    import sqlite3

    from samplemind import catalog as catalog_module

    real_apply = catalog_module.migrations.apply
    calls = []

    def racing_apply(db) -> None:
        calls.append(1)
        if len(calls) == 1:
            real_apply(db)  # "the other process" migrates first
            raise sqlite3.IntegrityError("UNIQUE constraint failed: "
                                         "_sqlite_migrations.migration_set, _sqlite_migrations.name")
        real_apply(db)

    monkeypatch.setattr(catalog_module.migrations, "apply", racing_apply)
    opened = catalog_module.Catalog(tmp_path / "library.db")
    assert len(calls) == 2 and opened.generation == 0
    opened.close()
