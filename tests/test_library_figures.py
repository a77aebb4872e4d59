"""The library's figures kept by the catalog's triggers (migration m018_library_figures):
Library.stats, Library.tags and Library.facets of every sample read small tables instead of
every row, and must say what a count over the samples says, after tags, corrections, scans
and removals made by another process. And a page of a filter that starts with a list of
values ("cat:snare,clap ... sort:lufs-") is read one value at a time and merged
(catalog._split_in): the same rows as the one-statement way, under every planner state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from samplemind import Library
from samplemind.catalog import _relative_folder, _split_in
from samplemind.migrations import rebuild_figures
from tests.audio_fixtures import write_drum_hit
from tests.server_fixtures import build_catalog, copy_home


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("figures"))


@pytest.fixture
def own_home(catalog: tuple[Path, Path], tmp_path: Path) -> Path:
    return copy_home(catalog[0], tmp_path / "own")


def counted(library: Library) -> dict[str, Any]:
    """The figures counted from the samples and tags themselves, the way they were before
    m018 (a WHERE that every row matches takes Catalog.facet_counts's SQL way)."""
    catalog = library.catalog

    def grouped(column: str) -> dict[str, int]:
        rows = catalog.query(f"SELECT coalesce({column}, 'unknown'), count(*) FROM samples "
                             "GROUP BY 1 ORDER BY 2 DESC, 1")
        return {str(name): count for name, count in rows}

    tags = [{"tag": tag, "count": count, "sources": sorted(sources.split(","))}
            for tag, count, sources in catalog.query(
                "SELECT tag, count(DISTINCT sample_id), group_concat(DISTINCT source) FROM tags "
                "GROUP BY tag ORDER BY 2 DESC, 1")]
    return {
        "samples": catalog.count("1 = 1"),
        "duration": round(catalog.scalar("SELECT coalesce(sum(duration), 0) FROM samples"), 3),
        "size": catalog.scalar("SELECT coalesce(sum(size), 0) FROM samples"),
        "by_type": grouped("type"), "by_category": grouped("category"),
        "by_format": grouped("format"), "tags": tags,
        "facets": {**catalog.facet_counts("1 = 1"), "folders": folders_of(library, "1 = 1")},
    }


def folders_of(library: Library, where: str, params: tuple = ()) -> list[dict[str, Any]]:
    """The folder facet counted in Python from every matching row's path and root (no SQL
    string functions, no figures table): what Catalog.facet_counts must answer."""
    counts: dict[tuple[str, str], int] = {}
    for path, root in library.catalog.query(f"SELECT s.path, s.root FROM samples s WHERE {where}",
                                            list(params)):
        key = (str(Path(path).parent), root or "")
        counts[key] = counts.get(key, 0) + 1
    return sorted(({"path": folder, "folder": _relative_folder(folder, root), "count": count}
                   for (folder, root), count in counts.items()), key=lambda item: item["path"])


def kept(library: Library) -> dict[str, Any]:
    """The same figures as Library answers them (from the tables the triggers keep)."""
    stats, facets = library.stats(), library.facets()
    assert facets["total"] == stats["samples"]
    return {**{name: stats[name] for name in ("samples", "duration", "size", "by_type",
                                              "by_category", "by_format")},
            "tags": library.tags(),
            "facets": {name: facets[name] for name in ("by_category", "by_type", "tags",
                                                       "folders")}}


def same(home: Path) -> dict[str, Any]:
    with Library(home) as library:
        expected, got = counted(library), kept(library)
    assert got["duration"] == pytest.approx(expected["duration"], abs=0.002)
    assert {**got, "duration": None} == {**expected, "duration": None}
    return got


def cli(home: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "samplemind", *args], capture_output=True,
                          text=True, env={**os.environ, "SAMPLEMIND_HOME": str(home)})
    assert done.returncode == 0, done.stderr


def test_the_figures_of_a_scanned_library_are_its_counts(own_home: Path) -> None:
    got = same(own_home)
    assert got["samples"] > 10 and len(got["by_category"]) > 2
    assert sum(folder["count"] for folder in got["facets"]["folders"]) == got["samples"]


@pytest.mark.slow  # CLI processes and two scans
def test_figures_follow_tags_corrections_scans_and_removals_from_another_process(
        own_home: Path, tmp_path: Path) -> None:
    with Library(own_home) as library:
        kick = next(library.ls("cat:kick")).id
        loop = next(library.ls("type:loop")).id
    cli(own_home, "tag", "add", "cat:kick", "punchy", "dark")
    got = same(own_home)
    assert any(entry["tag"] == "punchy" for entry in got["tags"])
    cli(own_home, "tag", "rm", str(kick), "dark")
    same(own_home)
    cli(own_home, "set", str(loop), "category=snare", "type=oneshot")
    same(own_home)
    folder = tmp_path / "more"
    folder.mkdir()
    for i, kind in enumerate(("kick", "snare", "hihat")):
        write_drum_hit(folder / f"new_{kind}_{i}.wav", kind, seed=40 + i)
    cli(own_home, "scan", str(folder))
    before = same(own_home)
    assert any(item["path"] == str(folder) for item in before["facets"]["folders"])
    shutil.rmtree(folder)
    os.makedirs(folder)
    cli(own_home, "scan", str(folder))  # the files are gone: their samples are removed
    after = same(own_home)
    assert after["samples"] == before["samples"] - 3
    assert not any(item["path"] == str(folder) for item in after["facets"]["folders"])


def test_figures_follow_writes_of_every_kind_in_sql(own_home: Path) -> None:
    """Row writes the commands do not make today, straight in SQL: a moved path, a changed
    format and size, a tag's source changed, a sample removed with its tags."""
    with Library(own_home) as library:
        conn = library.catalog.conn
        first, second = [row[0] for row in conn.execute("SELECT id FROM samples ORDER BY id LIMIT 2")]
        with library.catalog.transaction():
            conn.execute("UPDATE samples SET path = '/elsewhere/x/' || name, root = '/elsewhere', "
                         "format = NULL, size = size + 7, duration = NULL WHERE id = ?", [first])
            conn.execute("INSERT INTO tags (sample_id, tag, source) VALUES (?, 'odd', 'ai')",
                         [second])
            conn.execute("UPDATE tags SET source = 'user' WHERE sample_id = ? AND tag = 'odd'",
                         [second])
    got = same(own_home)
    assert got["by_format"].get("unknown") == 1
    assert {"tag": "odd", "count": 1, "sources": ["user"]} in got["tags"]
    with Library(own_home) as library:
        library.catalog.conn.execute("UPDATE samples SET format = 'wav' WHERE id = ?", [first])
        with library.catalog.transaction():
            library.catalog.delete_samples([second])
    got = same(own_home)
    assert "unknown" not in got["by_format"]
    assert all(entry["tag"] != "odd" for entry in got["tags"])


def test_rebuilding_the_figures_gives_what_the_triggers_kept(own_home: Path) -> None:
    with Library(own_home) as library:
        library.tag(["cat:kick"], ["boomy"])
        tables = ("library_figures", "folder_figures", "tag_figures")
        before = {table: sorted(library.catalog.query(f"SELECT * FROM {table}")) for table in tables}
        rebuild_figures(library.catalog.conn)
        after = {table: sorted(library.catalog.query(f"SELECT * FROM {table}")) for table in tables}
    assert before.keys() == after.keys()
    for table in tables:
        assert len(before[table]) == len(after[table]) > 0
        for old, new in zip(before[table], after[table]):
            assert old == pytest.approx(new) if table == "library_figures" else old == new


SPLIT_QUERIES = ("cat:kick,snare lufs:..-10 sort:lufs-", "cat:kick,snare,hihat",
                 "cat:snare,kick,snare sort:duration", "type:loop,oneshot sort:bpm-",
                 "cat:kick,hihat sort:key-", "cat:kick,snare sort:type", "cat:kick,clap -tag:*")


def one_statement(library: Library, query: str, limit: int, offset: int) -> list[int]:
    where, params, order_by, query_limit = library._where(query)
    if query_limit is not None:
        limit = min(limit, max(0, query_limit - offset))
    return [row[0] for row in library.catalog.conn.execute(
        f"SELECT s.id FROM samples s WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?",
        [*params, limit, offset])]


@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_a_list_of_values_read_one_value_at_a_time_gives_the_same_rows(own_home: Path,
                                                                       state: str) -> None:
    from helpers import set_statistics

    set_statistics(own_home, state)
    with Library(own_home) as library:
        split = 0
        for query in SPLIT_QUERIES:
            where, params, order_by, _ = library._where(query)
            split += _split_in(where, params, order_by, 5, 0) is not None
            for limit, offset in ((5, 0), (3, 2), (200, 0), (4, 9)):
                expected = one_statement(library, query, limit, offset)
                assert [s.id for s in library.ls(query, limit=limit, offset=offset)] == expected
                assert library.query_ids(query, limit=limit, offset=offset)[1] == expected
        assert split == len(SPLIT_QUERIES)  # every one of them took the per-value way


TAG_QUERIES = ("tag:punchy", "tag:punchy -tag:dark", "tag:punchy,dark sort:lufs-",
               "tag:p* cat:kick", "tag:* sort:name", "-tag:* limit:5", "tag:nobody")


def test_a_tag_read_from_the_tags_or_tested_per_sample_gives_the_same_rows(
        own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rare tag (Library._rare_tags, from tag_figures) is read as s.id IN (tags that
    match), a common one tested per sample with EXISTS: the same samples either way."""
    with Library(own_home) as library:
        kicks = [s.id for s in library.ls("cat:kick")]
        library.tag([str(i) for i in kicks[:3]], ["punchy"])
        library.tag([str(kicks[1])], ["dark"])
        answers = {}
        for rare in (True, False):
            monkeypatch.setattr(library, "_rare_tags", lambda condition, params, rare=rare: rare)
            assert ("s.id IN (SELECT t.sample_id" in library._where("tag:punchy")[0]) is rare
            answers[rare] = {query: ([s.id for s in library.ls(query)], library.count(query),
                                     library.query_ids(query, limit=2, offset=1)[1])
                             for query in TAG_QUERIES}
        monkeypatch.undo()
        assert answers[True] == answers[False]
        assert answers[True]["tag:punchy"][1] == 3 and answers[True]["tag:nobody"][1] == 0
        # as counted: rare while carried by at most sqrt(factor x samples)
        library.tag([str(s.id) for s in library.ls("")], ["everywhere"])
        samples = library.count()
        monkeypatch.setattr("samplemind.library.RARE_TAG_FACTOR", samples)
        assert library._rare_tags("lower(t.tag) IN (lower(?))", ["PUNCHY"])
        assert library._rare_tags("lower(t.tag) IN (lower(?))", ["everywhere"])
        monkeypatch.setattr("samplemind.library.RARE_TAG_FACTOR", samples - 1)
        assert not library._rare_tags("lower(t.tag) IN (lower(?))", ["everywhere"])
        assert library._rare_tags("lower(t.tag) GLOB lower(?)", ["punch*"])


@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_a_range_walked_in_path_order_gives_the_same_rows(own_home: Path, state: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A page in path order of 'type:X bpm:A..B' with many matches walks (type, path, bpm)
    in path order testing the tempo (Catalog._dense_range) instead of sorting: same rows."""
    from helpers import set_statistics

    set_statistics(own_home, state)
    queries = ("type:loop bpm:60..200", "type:loop bpm:1..", "type:oneshot bpm:..300",
               "type:loop bpm:90..130 -tag:*", "type:loop,oneshot bpm:40..400")
    with Library(own_home) as library:
        expected = {query: {page: one_statement(library, query, *page)
                            for page in ((5, 0), (3, 2), (50, 0))} for query in queries}
        # every filter counts as many: the walk is taken wherever it can be
        monkeypatch.setattr(library.catalog, "count", lambda *args: 1)
        walked = 0
        for query in queries:
            where, params, _, _ = library._where(query)
            sorted_ = any("B-TREE FOR ORDER BY" in row[-1] for row in library.catalog.conn.execute(
                f"EXPLAIN QUERY PLAN SELECT s.id FROM samples s WHERE {where} ORDER BY s.path",
                params))
            rewritten = "+s.bpm" in library.catalog._dense_range(where, params, 5)
            # walked, or already in path order; a tag test or a list of types is not one index
            assert rewritten or not sorted_ or "-tag" in query or "," in query, query
            walked += rewritten
            for (limit, offset), ids in expected[query].items():
                assert [s.id for s in library.ls(query, limit=limit, offset=offset)] == ids
                assert library.query_ids(query, limit=limit, offset=offset)[1] == ids
        assert walked >= 1 or state != "fresh"  # others: SQLite may walk it by itself


@pytest.mark.parametrize("query", ["cat:kick", "type:oneshot", "-cat:*", "type:loop bpm:100..200"])
def test_the_folders_of_a_query_are_its_matches_folders(own_home: Path, query: str) -> None:
    """Catalog.facet_counts reads only the matches' paths and takes each folder's root from
    the figures; a folder holding files of two roots (nested roots, here made in SQL) is
    counted by the exact query instead. Both give the folders counted row by row."""
    with Library(own_home) as library:
        where, params, _, _ = library._where(query)
        assert library.facets(query)["folders"] == folders_of(library, where, params)
        conn = library.catalog.conn
        first, = conn.execute(f"SELECT s.id FROM samples s WHERE {where} ORDER BY s.id LIMIT 1",
                              list(params)).fetchone()
        parent = str(Path(library.get(first).path).parent)
        with library.catalog.transaction():
            conn.execute("UPDATE samples SET root = ? WHERE id = ?", [parent, first])
        facets = library.facets(query)["folders"]
        assert sorted(facets, key=by_path_and_folder) == \
            sorted(folders_of(library, where, params), key=by_path_and_folder)
        in_parent = sum(1 for sample in library.ls(query) if str(Path(sample.path).parent) == parent)
        assert len([item for item in facets if item["path"] == parent]) == min(2, in_parent)


def by_path_and_folder(item: dict[str, Any]) -> tuple[str, str]:
    return item["path"], item["folder"]


CATEGORY_QUERIES = ("cat:kick", "cat:snare,clap", "-cat:*", "cat:kick type:oneshot", "cat:nothing",
                    "cat:kick,hat -type:loop")


@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_the_type_counts_of_a_category_filter_are_its_matches_types(own_home: Path,
                                                                    state: str) -> None:
    """The category and type counts of a category filter are read from the (category, type)
    index (m019), never the rows, whatever the planner's statistics; they are the counts of
    the matching records, type by type (also after a correction moves a sample)."""
    from helpers import set_statistics

    set_statistics(own_home, state)

    def by(records: list[Any], field: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in records:
            value = record.record[field] or "unknown"
            counts[value] = counts.get(value, 0) + 1
        return counts

    with Library(own_home) as library:
        kick = next(iter(library.ls("cat:kick")))
        for moved in (False, True):
            if moved:  # a kick the user calls a loop, another sample a kick
                library.set(kick.id, {"type": "loop"})
                library.set(next(iter(library.ls("-cat:kick"))).id, {"category": "kick"})
            for query in CATEGORY_QUERIES:
                records = list(library.ls(query))
                facets = library.facets(query)
                assert facets["total"] == len(records), query
                assert facets["by_type"] == by(records, "type"), query
                assert facets["by_category"] == by(records, "category"), query
                assert list(facets["by_type"].values()) == \
                    sorted(facets["by_type"].values(), reverse=True)
        assert library.facets("cat:kick")["by_type"].get("loop", 0) >= 1
        where, params, _, _ = library._where("cat:kick,snare")
        plan = " ".join(str(row[-1]) for row in library.catalog.conn.execute(
            "EXPLAIN QUERY PLAN SELECT coalesce(s.type, 'unknown'), count(*) FROM samples s "
            f"WHERE {where} GROUP BY 1", params))
        assert "COVERING INDEX samples_category_type" in plan, plan


FEW_QUERIES = ("cat:snare type:loop", "cat:kick bpm:..100", "cat:kick type:oneshot",
               "note:C2..C3 cat:bass", "cat:kick duration:..0.2", "key:Am~ type:loop",
               "cat:nothing type:loop", "duration:..0.1")


@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_a_page_of_few_matches_read_by_the_filter_gives_the_same_rows(
        own_home: Path, state: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page in path order whose plan walks an index in path order testing each row (SQLite
    hoping to meet the page's matches soon) is read through the filter's own index and
    sorted when few samples match (Catalog._few_matches): the same rows, and the walk is
    kept when many match."""
    from helpers import set_statistics

    set_statistics(own_home, state)
    with Library(own_home) as library:
        catalog = library.catalog
        pages = ((5, 0), (3, 2), (50, 0))
        expected = {query: {page: one_statement(library, query, *page) for page in pages}
                    for query in FEW_QUERIES}
        taken = []
        for tiny in (False, True):
            if tiny:  # a library of one sample: "few" is fewer than sqrt(4 x 5 x 1) = 4
                monkeypatch.setattr(catalog, "count", lambda *args: 1)
            for query in FEW_QUERIES:
                where, params, _, _ = library._where(query)
                steps = catalog._path_plan(where, params, 5)
                walk = len(steps) == 1 and "COVERING" not in steps[0] and \
                    steps[0].startswith(("SEARCH", "SCAN")) and "B-TREE" not in steps[0]
                matches = catalog.scalar(f"SELECT count(*) FROM samples s WHERE {where}", params)
                # counted in an index alone, never through the rows (tests/test_page_plans.py)
                counted = catalog._reads_index_only(
                    f"SELECT count(*) FROM (SELECT 1 FROM samples s WHERE {where} LIMIT ?)",
                    [*params, 4])
                few = catalog._few_matches(where, params, 5, steps)
                assert few == (walk and counted and (not tiny or matches < 4)), (query, steps, matches)
                taken.append(few)
                for (limit, offset), ids in expected[query].items():
                    assert [s.id for s in library.ls(query, limit=limit, offset=offset)] == ids
                    assert library.query_ids(query, limit=limit, offset=offset)[1] == ids
        assert any(taken) or state != "fresh"
