"""Pages in the order of a column (the web UI's column sorts: `sort:name`, `type:oneshot
sort:bpm-`, ...), read by Catalog._sorted_page from the indexes of migration m020: every page
and its total equal a Python sort of every record, under every state of the planner's
statistics, and the migration applies to a catalog made before it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from samplemind import Library
from samplemind.catalog import Catalog
from samplemind.migrations import FIGURE_TRIGGERS, SORT_INDEXES, migrations
from samplemind.music import camelot, midi_to_note

from helpers import set_statistics

FIELDS = ("name", "type", "category", "bpm", "key", "chord", "note", "duration",
          "loudness_lufs", "path")
FILTERS = ("", "type:oneshot", "type:loop", "cat:kick", "cat:kick,snare", "type:loop cat:kick",
           "cat:tom", "cat:nothing")
PAGES = ((5, 0), (60, 0), (20, 40))  # (limit, offset): both of _sorted_page's ways are taken
CATEGORIES = ("kick", "snare", "hihat", "bass", "synth", "pad", None)
CHORDS = ("A", "Am", "C", "Cmaj7", "Dm7", "G7", "Bbmaj7", "F#m")


def make_rows(count: int = 1500, seed: int = 7) -> list[dict[str, Any]]:
    """Rows with long runs of equal values (tempos, loudness, names differing only by case),
    missing values in every sorted column, and folders that do not follow the names."""
    rng = random.Random(seed)
    rows = []
    names: set[str] = set()
    for i in range(count):
        loop = rng.random() < 0.35
        category = rng.choice(CATEGORIES) if rng.random() > 0.02 else "tom"  # a rare one
        key = f"{rng.choice(('C', 'F#', 'A', 'Bb'))} {rng.choice(('major', 'minor'))}" \
            if loop and rng.random() < 0.6 else None
        midi = rng.randint(30, 80) if not loop and rng.random() < 0.5 else None
        stem = rng.choice(("Kick", "kick", "KICK", "snare", "Snare", "zap", "Ábc", "abc", "_x"))
        name = f"{stem}_{i % 7}.wav" if rng.random() < 0.6 else f"{stem}_{i:04d}.wav"
        while f"{i % 5}{name}" in names:
            name = f"{stem}_{rng.randint(0, 10**6)}.wav"
        names.add(f"{i % 5}{name}")
        rows.append({
            "path": f"/lib/{rng.choice('ZAMq')}{rng.randint(0, 99):02d}/{i % 5}{name}",
            "root": "/lib", "name": name,
            "hash": f"{i:032x}", "format": "wav", "type": "loop" if loop else "oneshot",
            "category": category,
            "bpm": rng.choice((120.0, 120.0, 90.0, 174.0, rng.uniform(60, 180))) if loop else None,
            "key": key, "camelot": camelot(key), "note": midi_to_note(midi) if midi else None,
            "pitch_hz": round(440 * 2 ** ((midi - 69) / 12), 1) if midi else None,
            "chord": rng.choice(CHORDS) if midi and rng.random() < 0.5 else None,
            "duration": (rng.choice((0.5, 1.0, round(rng.uniform(0.05, 8), 2)))
                         if rng.random() < 0.95 else None),
            "loudness_lufs": (rng.choice((-12.0, round(rng.uniform(-30, -5), 1)))
                              if rng.random() < 0.9 else None),
        })
    return rows


def insert(conn: Any, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    conn.executemany(f"INSERT INTO samples ({', '.join(columns)}) VALUES "
                     f"({', '.join('?' for _ in columns)})", [[row[c] for c in columns] for row in rows])


def _nocase(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _value(row: dict[str, Any], field: str) -> Any:
    if field == "key":
        code = row["camelot"]
        return None if code is None else (int(code[:-1]), code)
    if field == "note":
        return row["pitch_hz"]
    value = row[field]
    return _nocase(value) if isinstance(value, str) and field != "path" else value


def _matches(row: dict[str, Any], text: str) -> bool:
    for term in text.split():
        field, _, values = term.partition(":")
        if row["type" if field == "type" else "category"] not in values.split(","):
            return False
    return True


def oracle(rows: list[dict[str, Any]], text: str, field: str, descending: bool) -> list[str]:
    """The paths of every match in the sort's order, in Python: missing values last, ties
    by path."""
    found = sorted((r for r in rows if _matches(r, text)), key=lambda r: r["path"])
    valued = [r for r in found if _value(r, field) is not None]
    valued.sort(key=lambda r: _value(r, field), reverse=descending)
    return [r["path"] for r in valued + [r for r in found if _value(r, field) is None]]




@pytest.fixture(scope="module")
def sorted_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    home = tmp_path_factory.mktemp("sort-pages")
    rows = make_rows()
    with Library(home) as library:
        with library.catalog.transaction():
            insert(library.catalog.conn, rows)
    return home, rows


def _check_pages(library: Library, rows: list[dict[str, Any]], filters=FILTERS,
                 totals: bool = True) -> None:
    path_of = dict(library.catalog.query("SELECT id, path FROM samples"))
    for text in filters:
        for field in FIELDS:
            for descending in (False, True):
                query = f"{text} sort:{field}{'-' if descending else ''}".strip()
                expected = oracle(rows, text, field, descending)
                for limit, offset in PAGES:
                    _, ids, total = library.query_ids(query, limit=limit, offset=offset, total=True)
                    page = expected[offset:offset + limit]
                    assert [path_of[i] for i in ids] == page, (query, limit, offset)
                    assert not totals or total == len(expected), query
                    listed = [s.path for s in library.ls(query, limit=limit, offset=offset)]
                    assert listed == expected[offset:offset + limit], (query, limit, offset)


@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_every_column_sort_page_is_the_python_sort(sorted_home, state: str) -> None:
    home, rows = sorted_home
    set_statistics(home, state, stale_fraction=100)  # as after a first small scan
    with Library(home) as library:
        has = library.catalog.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert bool(has) == (state != "none")
        _check_pages(library, rows)


def test_other_filters_and_orders_keep_their_pages(sorted_home) -> None:
    """What _sorted_page leaves to the one-statement way (a filter on other columns, several
    sort keys, a page deeper than it reads) lists the same rows as before."""
    home, rows = sorted_home
    with Library(home) as library:
        everything = [s.path for s in library.ls("cat:kick,snare bpm:100.. sort:name")]
        assert everything == [p for p in oracle(rows, "cat:kick,snare", "name", False)
                              if next(r for r in rows if r["path"] == p)["bpm"] is not None
                              and next(r for r in rows if r["path"] == p)["bpm"] >= 100]
        assert [s.path for s in library.ls("cat:kick,snare bpm:100.. sort:name", limit=7)] == everything[:7]
        by_two = [s.path for s in library.ls("type:loop sort:bpm,name-")]
        assert [s.path for s in library.ls("type:loop sort:bpm,name-", limit=9, offset=3)] == by_two[3:12]
        deep = oracle(rows, "", "name", True)
        assert [s.path for s in library.ls("sort:name-", limit=50, offset=1400)] == deep[1400:1450]


def test_a_type_or_category_total_comes_from_the_figures_and_agrees(sorted_home) -> None:
    home, rows = sorted_home
    with Library(home) as library:
        for text in (*FILTERS, "type:loop,oneshot cat:kick,bass,pad", "cat:kick cat:kick,snare"):
            assert library.count(text or None) == sum(_matches(r, text) for r in rows), text


# The figures (m018) as a catalog can have them wrong: emptied; some (category, type) rows
# gone ('unknown' there: a missing value or the word) and one for a pair without samples; or
# a fifth of the samples written by a bulk writer that dropped the insert trigger.
DAMAGES = ("emptied", "pairs", "bypassed")
UNKNOWN_FILTERS = ("cat:unknown", "cat:unknown,kick type:loop", "type:oneshot cat:unknown,tom")


def with_unknowns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the word 'unknown' as a category and a type and missing types, beside the
    missing categories make_rows writes: each its own (category, type) pair in the index."""
    for i, row in enumerate(rows):
        if i % 11 == 3:
            row["category"] = "unknown"
        if i % 13 == 5:
            row["type"] = None
        elif i % 17 == 6:
            row["type"] = "unknown"
    return rows


def damage_figures(conn: Any, rows: list[dict[str, Any]], damage: str) -> None:
    """Write rows into the catalog with its figures left wrong in the way named."""
    if damage == "bypassed":
        conn.execute("DROP TRIGGER samples_figures_insert")
        insert(conn, rows[len(rows) // 5:])
        conn.execute(f"CREATE TRIGGER samples_figures_insert {FIGURE_TRIGGERS['samples_figures_insert']}")
        insert(conn, rows[:len(rows) // 5])
        return
    insert(conn, rows)
    if damage == "emptied":
        conn.execute("DELETE FROM library_figures")
    else:
        conn.execute("DELETE FROM library_figures WHERE category = 'unknown' OR type = 'unknown' "
                     "OR (category, type) IN (VALUES ('snare', 'loop'), ('kick', 'oneshot'))")
        conn.execute("INSERT INTO library_figures VALUES ('loop', 'ghost', 'wav', 5, 1.0, 10)")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("state", ["none", "fresh", "stale"])
def test_sort_pages_list_every_sample_whatever_the_figures_say(tmp_path: Path, damage: str,
                                                                state: str) -> None:
    """A sort page finds the (category, type) pairs that have samples in the samples (seeks
    in m020's (category, type, path)), not in the figures: figures written around their
    triggers or damaged hide no sample from any page. (The totals are figures, like the
    facets beside them: not checked here.)"""
    rows = with_unknowns(make_rows(900, seed=11))
    with Library(tmp_path) as library:
        with library.catalog.transaction():
            damage_figures(library.catalog.conn, rows, damage)
        figured = library.catalog.scalar("SELECT coalesce(sum(samples), 0) FROM library_figures")
        assert figured != len(rows)  # the figures are wrong indeed
    set_statistics(tmp_path, state, stale_fraction=100)
    with Library(tmp_path) as library:
        _check_pages(library, rows, filters=(*FILTERS, *UNKNOWN_FILTERS), totals=False)


def test_m020_applies_to_a_catalog_made_before_it(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    rows = make_rows(400, seed=3)
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m020_sort_orders")
    with db.conn:
        insert(db.conn, rows)
    db.execute("ANALYZE")
    replaced = {old for old, _, _ in SORT_INDEXES if old}
    assert replaced <= {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.conn.close()
    catalog = Catalog(path)
    try:
        indexes = {row[0] for row in catalog.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {name for _, name, _ in SORT_INDEXES} <= indexes
        assert not replaced & indexes
        analysed = {row[0] for row in catalog.query("SELECT idx FROM sqlite_stat1")}
        assert {name for _, name, _ in SORT_INDEXES} <= analysed  # statistics for the new ones
        assert not replaced & analysed  # and none left of the indexes that went
    finally:
        catalog.close()
    with Library(tmp_path) as library:
        _check_pages(library, rows, filters=("", "type:oneshot", "cat:kick"))


def test_a_long_category_list_stays_within_sqlites_variable_limit(tmp_path: Path) -> None:
    """_order_page binds the filter once per (category, type) it merges: a list of many
    categories would pass SQLite's variable limit (32766 in most builds; Debian's is larger),
    an OperationalError (500). Past it, the one-statement way answers."""
    import sqlite3

    rows = make_rows(600, seed=4)
    categories = [f"c{i:03d}" for i in range(190)]
    for i, row in enumerate(rows):
        row["category"], row["type"] = categories[i % len(categories)], "oneshot"
    with Library(tmp_path) as library:
        with library.catalog.transaction():
            insert(library.catalog.conn, rows)
        library.catalog.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)
        path_of = dict(library.catalog.query("SELECT id, path FROM samples"))
        text = "cat:" + ",".join(categories)
        for field in ("name", "bpm", "duration", "key"):
            _, ids, total = library.query_ids(f"{text} sort:{field}", limit=60, total=True)
            assert [path_of[i] for i in ids] == oracle(rows, text, field, False)[:60], field
            assert total == len(rows)
