"""The catalog's schema: numbered migrations (sqlite-utils ``Migrations``) and the full-text
index they build, the change-feed triggers included. ``Catalog`` (catalog.py) applies them when it
opens a file; everything that reads or writes rows lives there, not here.

A new column is a new migration at the end, numbered after the last one; never edit one that
has shipped, a catalog that ran it will not run it again (ARCHITECTURE.md: How to add a field).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .models import DESCRIPTOR_FIELDS, SCHEMA_VERSION, TEXT_FIELDS

# -- full-text search -------------------------------------------------------------------

FTS_TABLE = "samples_fts"

# Path indexed from the scanned folder's own name down ("Samples/Kicks/Kick_01.wav"): the
# absolute prefix (/home/me/...) would make "home" or "me" match every sample.
# rtrim(root, <root's non-slash characters>) leaves the root's parent with its trailing '/'.
_ROOT_PARENT = "rtrim(s.root, replace(s.root, '/', ''))"
# AI descriptions (catalog migration m007) are indexed with the embedded description once
# their table exists; migrations before m007 build the index without them.
AI_TABLE = "ai_descriptions"
_AI_TEXT = (f"coalesce((SELECT a.description || ' ' || coalesce(a.mood, '') || ' ' || "
            f"coalesce(a.uses, '') FROM {AI_TABLE} a WHERE a.sample_id = s.id), '')")


def _fts_source(with_ai: bool) -> str:
    """The SELECT that yields one sample's full-text row (rowid and the four texts)."""
    description = ("coalesce(s.title, '') || ' ' || coalesce(s.artist, '') || ' ' || "
                   "coalesce(s.comment, '') || ' ' || coalesce(s.description, '')")
    if with_ai:
        description += f" || ' ' || {_AI_TEXT}"
    return (
        "SELECT s.id, coalesce(s.name, ''), "
        f"CASE WHEN substr(s.path, 1, length({_ROOT_PARENT})) = {_ROOT_PARENT} "
        f"THEN substr(s.path, length({_ROOT_PARENT}) + 1) ELSE s.path END, "
        "coalesce((SELECT group_concat(t.tag, ' ') FROM tags t WHERE t.sample_id = s.id), ''), "
        f"trim({description}) "
        "FROM samples s"
    )


def _with_ai(db: sqlite_utils.Database) -> bool:
    return db[AI_TABLE].exists()


_FTS_COLUMNS = "rowid, name, path, tags, description"
_SAMPLE_TEXT_COLUMNS = "id, path, root, name, title, artist, comment, description"


def _refresh(sample_id: str, with_ai: bool = False) -> str:
    """Trigger body: re-index one sample from its current row and tags. Delete-then-insert
    is idempotent, so any sequence of writes leaves the index right."""
    return (f"DELETE FROM {FTS_TABLE} WHERE rowid = {sample_id}; "
            f"INSERT INTO {FTS_TABLE} ({_FTS_COLUMNS}) {_fts_source(with_ai)} "
            f"WHERE s.id = {sample_id};")


def create_fts(db: sqlite_utils.Database) -> None:
    """Create the ``samples_fts`` FTS5 table, the triggers that keep it in sync with
    samples and tags, and index the rows already there (a catalog migration)."""
    # A plain FTS5 table (it keeps its own copy of these few short texts): with SQLite
    # before 3.43, contentless and external-content tables can only forget a row when
    # given its exact old values, and a missed trigger path (INSERT OR IGNORE, REPLACE)
    # would silently corrupt the index; rowid deletes cannot.
    # Prefix indexes: every bare word is a prefix search ("kick" finds "Kicks"); without
    # them FTS5 walks the whole term range (measured 4.7 -> 2.7 ms over 100k samples).
    db.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(name, path, tags, description, "
               "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')")
    ai = _with_ai(db)
    triggers = {
        "samples_fts_insert": f"AFTER INSERT ON samples BEGIN {_refresh('new.id', ai)} END",
        "samples_fts_update": (f"AFTER UPDATE OF {_SAMPLE_TEXT_COLUMNS} ON samples BEGIN "
                               f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id; "
                               f"{_refresh('new.id', ai)} END"),
        "samples_fts_delete": f"AFTER DELETE ON samples BEGIN "
                              f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END",
        "tags_fts_insert": f"AFTER INSERT ON tags BEGIN {_refresh('new.sample_id', ai)} END",
        "tags_fts_update": (f"AFTER UPDATE ON tags BEGIN {_refresh('old.sample_id', ai)} "
                            f"{_refresh('new.sample_id', ai)} END"),
        "tags_fts_delete": f"AFTER DELETE ON tags BEGIN {_refresh('old.sample_id', ai)} END",
    }
    if ai:
        triggers.update({
            "ai_fts_insert": f"AFTER INSERT ON {AI_TABLE} BEGIN {_refresh('new.sample_id', ai)} END",
            "ai_fts_update": (f"AFTER UPDATE ON {AI_TABLE} BEGIN {_refresh('old.sample_id', ai)} "
                              f"{_refresh('new.sample_id', ai)} END"),
            "ai_fts_delete": f"AFTER DELETE ON {AI_TABLE} BEGIN {_refresh('old.sample_id', ai)} END",
        })
    for name, body in triggers.items():
        db.execute(f"DROP TRIGGER IF EXISTS {name}")  # a trigger left from before is replaced
        db.execute(f"CREATE TRIGGER {name} {body}")
    rebuild_fts(db)


FTS_TRIGGERS = ("samples_fts_insert", "samples_fts_update", "samples_fts_delete",
                "tags_fts_insert", "tags_fts_update", "tags_fts_delete",
                "ai_fts_insert", "ai_fts_update", "ai_fts_delete")


def drop_fts(db: sqlite_utils.Database) -> None:
    """Remove the full-text table and its triggers (to recreate them)."""
    for trigger in FTS_TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def rebuild_fts(db: sqlite_utils.Database) -> None:
    """Re-index every sample (backfill, or repair after writes that bypassed triggers)."""
    db.execute(f"DELETE FROM {FTS_TABLE}")
    db.execute(f"INSERT INTO {FTS_TABLE} ({_FTS_COLUMNS}) {_fts_source(_with_ai(db))}")


# -- migrations ---------------------------------------------------------------------------

migrations = Migrations("samplemind")


@migrations()
def m001_create_tables(db: sqlite_utils.Database) -> None:
    """Samples, tags, overrides, failures, roots and meta."""
    columns: dict[str, Any] = {
        "id": int, "path": str, "root": str, "name": str, "format": str, "codec": str,
        "sample_rate": int, "channels": int, "bit_depth": int, "duration": float,
        "size": int, "mtime_ns": int, "hash": str, "audio_hash": str,
        "type": str, "type_confidence": float, "type_source": str,
        "category": str, "category_confidence": float, "category_source": str,
        "bpm": float, "bpm_confidence": float, "bpm_source": str, "bpm_alternatives": str,
        "key": str, "key_confidence": float, "key_source": str, "camelot": str,
        "note": str, "note_confidence": float, "note_source": str, "pitch_hz": float,
        "loudness_lufs": float, "peak_db": float,
    }
    columns.update({name: float for name in DESCRIPTOR_FIELDS})
    columns["onset_count"] = int
    columns.update({name: str for name in TEXT_FIELDS})
    columns.update({
        "analysis": str,  # JSON: raw DSP results + embedded metadata, to re-resolve without decoding
        "vector": bytes, "peaks": bytes,
        "extractor_version": str, "analysed_at": str, "scanned_at": str,
    })
    db["samples"].create(columns, pk="id", not_null={"path", "hash", "root"})
    db["samples"].create_index(["path"], unique=True)
    for column in ("root", "hash", "audio_hash", "category", "type", "bpm", "key",
                   "camelot", "note", "duration", "loudness_lufs", "name"):
        db["samples"].create_index([column])
    db["tags"].create({"sample_id": int, "tag": str, "source": str}, pk=("sample_id", "tag"),
                      foreign_keys=[("sample_id", "samples", "id")])
    db["tags"].create_index(["tag"])
    db["overrides"].create({"sample_id": int, "field": str, "value": str, "set_at": str},
                           pk=("sample_id", "field"),
                           foreign_keys=[("sample_id", "samples", "id")])
    db["failures"].create({"path": str, "root": str, "size": int, "mtime_ns": int,
                           "error": str, "at": str}, pk="path")
    db["roots"].create({"path": str, "added_at": str, "last_scan_at": str}, pk="path")
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["meta"].insert_all([{"key": "generation", "value": "0"},
                           {"key": "schema_version", "value": str(SCHEMA_VERSION)}])


@migrations()
def m002_vector_changes(db: sqlite_utils.Database) -> None:
    """Let the vector index catch up without a rebuild: when each vector last changed,
    and which samples were removed at which generation."""
    db["samples"].add_column("vector_generation", int)
    db.execute("UPDATE samples SET vector_generation = 0")
    db["samples"].create_index(["vector_generation"])
    db["removed"].create({"sample_id": int, "generation": int}, pk="sample_id")
    db["removed"].create_index(["generation"])


@migrations()
def m003_full_text(db: sqlite_utils.Database) -> None:
    """FTS5 over names, paths, tags and descriptions, for free words in queries."""
    create_fts(db)


@migrations()
def m004_collections(db: sqlite_utils.Database) -> None:
    """Saved queries, used as @NAME."""
    db["collections"].create({"name": str, "query": str, "saved_at": str}, pk="name")


@migrations()
def m005_query_speed(db: sqlite_utils.Database) -> None:
    """Indexes for the commonest pairs of filters, and FTS5 prefix indexes for free words
    (benchmarks/query.py: 'cat:bass note:C2..C3' 6.1 -> 1.2 ms, 'warm tape' 4.9 -> 2.7 ms
    over 100k samples)."""
    for columns in (("category", "note"), ("category", "bpm"), ("type", "bpm"),
                    ("type", "camelot")):
        db["samples"].create_index(list(columns), if_not_exists=True)
    drop_fts(db)
    create_fts(db)


# The generation the enclosing transaction will commit as: transaction() bumps meta at
# its end, and every write of sample rows, tags and overrides happens inside one.
_NEXT_GENERATION = "(SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'generation')"


def _mark_changed(sample_id: str) -> str:
    # DELETE then INSERT rather than INSERT OR REPLACE / upsert: inside a trigger the
    # conflict policy of the statement that fired it wins (an outer INSERT OR IGNORE
    # would turn a REPLACE into IGNORE and leave the old generation behind).
    return (f"DELETE FROM sample_changes WHERE sample_id = {sample_id}; "
            f"INSERT INTO sample_changes (sample_id, generation) "
            f"VALUES ({sample_id}, {_NEXT_GENERATION});")


def _unmarked(sample_id: str) -> str:
    # Already marked by this transaction (a scan inserts, updates and tags one row): skip
    # the rewrite, a lookup is cheaper.
    return (f"(SELECT generation FROM sample_changes WHERE sample_id = {sample_id}) "
            f"IS NOT {_NEXT_GENERATION}")


CHANGE_TRIGGERS = {
    "samples_changes_insert": (f"AFTER INSERT ON samples WHEN {_unmarked('new.id')} "
                               f"BEGIN {_mark_changed('new.id')} END"),
    "samples_changes_update": (f"AFTER UPDATE ON samples WHEN {_unmarked('new.id')} "
                               f"BEGIN {_mark_changed('new.id')} END"),
    "samples_changes_delete": ("AFTER DELETE ON samples BEGIN "
                               "DELETE FROM sample_changes WHERE sample_id = old.id; END"),
    **{f"{table}_changes_{event}": (
        f"AFTER {event.upper()} ON {table} WHEN {_unmarked(f'{row}.sample_id')} "
        f"AND EXISTS (SELECT 1 FROM samples WHERE id = {row}.sample_id) "
        f"BEGIN {_mark_changed(f'{row}.sample_id')} END")
       for table in ("tags", "overrides")
       for event, row in (("insert", "new"), ("update", "new"), ("delete", "old"))},
}


@migrations()
def m006_change_feed(db: sqlite_utils.Database) -> None:
    """A change feed for the server's events: ``sample_changes`` holds, per sample, the
    generation its row, tags or overrides last changed at (kept by triggers, so writes by
    any process count); removals are in ``removed``. A side table rather than a samples
    column: the column would show in every sample record (``SELECT s.*``), and updating
    it would rewrite the wide samples row (analysis JSON, vector, peaks) on each insert."""
    db.execute("CREATE TABLE sample_changes (sample_id INTEGER PRIMARY KEY, "
               "generation INTEGER NOT NULL)")
    db.execute("CREATE INDEX sample_changes_generation ON sample_changes (generation)")
    db.execute("INSERT INTO sample_changes (sample_id, generation) "
               "SELECT id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation') "
               "FROM samples")
    for name, body in CHANGE_TRIGGERS.items():
        db.execute(f"CREATE TRIGGER {name} {body}")


@migrations()
def m007_ai_descriptions(db: sqlite_utils.Database) -> None:
    """AI descriptions (samplemind describe): one per sample, with the content hash, model
    and prompt version that produced it (so a batch can resume); its tags live in ``tags``
    with source "ai". The description, mood and uses join the full-text index. Removed
    with its sample (ON DELETE CASCADE)."""
    db.execute("CREATE TABLE ai_descriptions (sample_id INTEGER PRIMARY KEY REFERENCES "
               "samples(id) ON DELETE CASCADE, hash TEXT NOT NULL, model TEXT NOT NULL, "
               "prompt_version TEXT NOT NULL, description TEXT NOT NULL, mood TEXT, "
               "uses TEXT NOT NULL DEFAULT '[]', described_at TEXT NOT NULL)")
    drop_fts(db)
    create_fts(db)


@migrations()
def m008_listing_order(db: sqlite_utils.Database) -> None:
    """Listings are ordered by path, so a filter on category or type followed by that order
    reads its first page straight from an index: 'cat:kick limit:50' over 100k samples
    took 16-27 ms (every kick read and sorted; how SQLite chose depended on sampled
    statistics) and takes 0.1 ms. The single-column indexes they extend go."""
    db["samples"].create_index(["category", "path"], if_not_exists=True)
    db["samples"].create_index(["type", "path"], if_not_exists=True)
    for name in ("idx_samples_category", "idx_samples_type"):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.execute("PRAGMA analysis_limit = 0")
    db.execute("ANALYZE")  # the new indexes need statistics before the planner trusts them


@migrations()
def m009_sound_category(db: sqlite_utils.Database) -> None:
    """The category steps after each scan (similarity/consensus.py, teach.py) read every
    one-shot's category columns; from this covering index instead of the wide rows (vector,
    analysis, peaks), which took 0.15-0.3 s per read at 100k samples and takes 0.01-0.06 s."""
    db["samples"].create_index(
        ["type", "category_source", "category", "category_confidence", "duration"],
        index_name="samples_sound_category", if_not_exists=True)
    db.execute("ANALYZE samples_sound_category")


@migrations()
def m010_removed_sounds(db: sqlite_utils.Database) -> None:
    """What a removed sample was (its vector, type and duration), kept with the removal until
    the saved index has applied it: the sound consensus asks the removed sound's nearest
    neighbours again instead of the whole library."""
    for column, kind in (("vector", bytes), ("type", str), ("duration", float)):
        db["removed"].add_column(column, kind)


@migrations()
def m011_damage_warnings(db: sqlite_utils.Database) -> None:
    """What is visibly wrong with a file that still decoded ("truncated: header declares
    0.44 s, 0.15 s decoded"): a JSON list, NULL when nothing is."""
    db["samples"].add_column("warnings", str)


@migrations()
def m012_chords(db: sqlite_utils.Database) -> None:
    """The chord of a tonal one-shot ("Am", "Cmaj7", "Gsus4"), with its confidence and source;
    indexed for 'chord:Am'. Existing rows get theirs on the next scan (new extractor version)."""
    for column, kind in (("chord", str), ("chord_confidence", float), ("chord_source", str)):
        db["samples"].add_column(column, kind)
    db["samples"].create_index(["chord"], if_not_exists=True)


@migrations()
def m013_review(db: sqlite_utils.Database) -> None:
    """Review mode (review.py): the owner's answers, each with what it changed so it can be
    undone, and short leases so two reviewers are never asked the same question."""
    db["review_answers"].create({
        "id": int, "sample_id": int, "field": str, "value": str, "previous": str,
        "before": str, "changed": int, "reviewer": str, "answered_at": str, "undone_at": str,
    }, pk="id", not_null={"sample_id", "field"}, if_not_exists=True)
    db["review_leases"].create({
        "sample_id": int, "field": str, "reviewer": str, "expires": float,
    }, pk=("sample_id", "field"), if_not_exists=True)


@migrations()
def m014_covering_query_indexes(db: sqlite_utils.Database) -> None:
    """Query pages read ids (Library.query_ids): with the listing's order (path, or the
    sorted field then path) in the index of the commonest filter pairs, SQLite answers them
    from the index alone, whatever its statistics say. Without: 'type:loop bpm:120..128' read
    every matching row to sort by path, and with no statistics 'cat:snare,clap lufs:..-10
    sort:lufs-' read every snare and clap through the category-bpm index (85 ms at 100k
    samples). The pair indexes they extend go (an index on (a, b, path) serves (a, b) too)."""
    for columns in (("category", "note"), ("category", "bpm"), ("type", "bpm"),
                    ("type", "camelot")):
        db["samples"].create_index([*columns, "path"], if_not_exists=True)
        db.execute(f"DROP INDEX IF EXISTS idx_samples_{'_'.join(columns)}")
    db["samples"].create_index(["category", "loudness_lufs", "path"], if_not_exists=True)
    # Statistics of the dropped indexes would mislead nobody, but stale rows are clutter.
    if db["sqlite_stat1"].exists():
        db.execute("DELETE FROM sqlite_stat1 WHERE idx NOT IN "
                   "(SELECT name FROM sqlite_master WHERE type = 'index')")


@migrations()
def m015_favourites(db: sqlite_utils.Database) -> None:
    """Favourites, kept per account (the name a person logs in with; "local" without accounts):
    one row per account and sample, queried with fav:NAME. A sample's removal takes its rows."""
    db["favourites"].create({"account": str, "sample_id": int, "added": str},
                            pk=("account", "sample_id"), if_not_exists=True)
    db["favourites"].create_index(["sample_id"], if_not_exists=True)


@migrations()
def m016_lessons(db: sqlite_utils.Database) -> None:
    """What each unnamed one-shot's last lesson was made of (similarity/teach.py): how far its
    farthest voting teacher was (NULL: fewer teachers than it listens to, so every new one is
    heard; `heard`: how many teachers it heard) and the sound's own guess the lesson was
    weighed against. A review answer then
    teaches only the one-shots it can reach, instead of the whole library again."""
    db["lessons"].create({"sample_id": int, "reach": float, "heard": int, "sound_category": str,
                          "sound_confidence": float}, pk="sample_id", if_not_exists=True)


@migrations()
def m017_teachers(db: sqlite_utils.Database) -> None:
    """The teachers the last round of lessons heard (similarity/teach.py), each with its label:
    the next round after a scan compares them with today's, and only the one-shots within
    reach of a teacher that came, went or changed its label learn again, instead of the
    whole library."""
    db["teachers"].create({"sample_id": int, "label": str}, pk="sample_id", if_not_exists=True)
    # and how far each sound consensus search reached (similarity/consensus.py): the squared
    # distance of the farthest voter it found (NULL: fewer than it asked for), so a new or
    # removed sound asks again only the sounds it is near enough to move
    db["sounds"].create({"sample_id": int, "reach": float}, pk="sample_id", if_not_exists=True)


# -- the library's figures, kept by triggers (m018) -----------------------------------------

# A sample's folder: its path less the file name when the name ends it (the cheap way), else
# everything up to the last '/' (what Catalog.facet_counts groups by).
def _folder(row: str) -> str:
    return (f"CASE WHEN substr({row}.path, length({row}.path) - length({row}.name)) = '/' || "
            f"{row}.name THEN substr({row}.path, 1, length({row}.path) - length({row}.name) - 1) "
            f"ELSE rtrim({row}.path, replace({row}.path, '/', '')) END")


# (table, its key columns, the key of a samples or tags row, the sums it keeps of that row)
_FIGURES = {
    "library_figures": (("type", "category", "format"),
                        lambda row: (f"coalesce({row}.type, 'unknown')",
                                     f"coalesce({row}.category, 'unknown')",
                                     f"coalesce({row}.format, 'unknown')"),
                        lambda row: {"duration": f"coalesce({row}.duration, 0)",
                                     "size": f"coalesce({row}.size, 0)"}),
    "folder_figures": (("folder", "root"),
                       lambda row: (_folder(row), f"coalesce({row}.root, '')"),
                       lambda row: {}),
    "tag_figures": (("tag", "source"),
                    lambda row: (f"{row}.tag", f"coalesce({row}.source, '')"),
                    lambda row: {}),
}


def _count(table: str, row: str, sign: str) -> str:
    """Trigger body: add (sign '+') or take away (sign '-') one row's share of a figures
    table. Plain UPDATE and INSERT ... WHERE NOT EXISTS, no upsert: inside a trigger the
    conflict policy of the statement that fired it wins (an outer INSERT OR IGNORE would
    turn DO UPDATE into a silent skip)."""
    columns, key_of, sums_of = _FIGURES[table]
    key = key_of(row)
    sums = sums_of(row)
    match = " AND ".join(f"{column} = {value}" for column, value in zip(columns, key))
    assign = ", ".join([f"samples = samples {sign} 1",
                        *(f"{name} = {name} {sign} {value}" for name, value in sums.items())])
    body = f"UPDATE {table} SET {assign} WHERE {match}; "
    if sign == "+":
        names = ", ".join([*columns, "samples", *sums])
        values = ", ".join([*key, "1", *sums.values()])
        body += (f"INSERT INTO {table} ({names}) SELECT {values} "
                 f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match}); ")
    else:
        body += f"DELETE FROM {table} WHERE {match} AND samples <= 0; "
    return body


def _changed(*columns: str) -> str:
    return " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)


FIGURE_TRIGGERS = {
    "samples_figures_insert": ("AFTER INSERT ON samples BEGIN "
                               f"{_count('library_figures', 'new', '+')}"
                               f"{_count('folder_figures', 'new', '+')} END"),
    "samples_figures_delete": ("AFTER DELETE ON samples BEGIN "
                               f"{_count('library_figures', 'old', '-')}"
                               f"{_count('folder_figures', 'old', '-')} END"),
    "samples_figures_update": ("AFTER UPDATE OF type, category, format, duration, size ON samples "
                               f"WHEN {_changed('type', 'category', 'format', 'duration', 'size')} "
                               f"BEGIN {_count('library_figures', 'old', '-')}"
                               f"{_count('library_figures', 'new', '+')} END"),
    "samples_folders_update": ("AFTER UPDATE OF path, name, root ON samples "
                               f"WHEN {_changed('path', 'name', 'root')} "
                               f"BEGIN {_count('folder_figures', 'old', '-')}"
                               f"{_count('folder_figures', 'new', '+')} END"),
    "tags_figures_insert": f"AFTER INSERT ON tags BEGIN {_count('tag_figures', 'new', '+')} END",
    "tags_figures_delete": f"AFTER DELETE ON tags BEGIN {_count('tag_figures', 'old', '-')} END",
    "tags_figures_update": ("AFTER UPDATE OF tag, source ON tags "
                            f"WHEN {_changed('tag', 'source')} "
                            f"BEGIN {_count('tag_figures', 'old', '-')}"
                            f"{_count('tag_figures', 'new', '+')} END"),
}


def rebuild_figures(db: sqlite_utils.Database | Any) -> None:
    """Count the library's figures afresh from every sample and tag (the backfill; and after
    writes that bypassed the triggers, as benchmarks/scale.py's bulk insert does). db: a
    sqlite_utils Database or a sqlite3 connection."""
    for table, (columns, key_of, sums_of) in _FIGURES.items():
        source = "tags" if table == "tag_figures" else "samples"
        key = key_of(source)
        sums = sums_of(source)
        names = ", ".join([*columns, "samples", *sums])
        groups = ", ".join(str(i + 1) for i in range(len(columns)))
        values = ", ".join([*key, "count(*)", *(f"total({value})" if name == "duration"
                                                 else f"sum({value})"
                                                 for name, value in sums.items())])
        db.execute(f"DELETE FROM {table}")
        db.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {source} "
                   f"GROUP BY {groups}")


@migrations()
def m018_library_figures(db: sqlite_utils.Database) -> None:
    """The library's figures kept by triggers, so the counts beside the list cost the same at
    a million samples as at a hundred (Library.stats, Library.tags, Library.facets of every
    sample; GET /api/v1/stats, /tags, /facets): samples, duration and size by (type,
    category, format); samples by folder; samples by tag and source. Counted by the
    triggers of whichever process writes (a scan, a tag, a correction, a removal); a zero
    row is dropped. Without them the answers read every row: 12-21 s at 1M samples. And the
    category-loudness and type-tempo indexes in the order sort:lufs- and sort:bpm- list."""
    db.execute("CREATE TABLE library_figures (type TEXT NOT NULL, category TEXT NOT NULL, "
               "format TEXT NOT NULL, samples INTEGER NOT NULL, duration REAL NOT NULL, "
               "size INTEGER NOT NULL, PRIMARY KEY (type, category, format))")
    db.execute("CREATE TABLE folder_figures (folder TEXT NOT NULL, root TEXT NOT NULL, "
               "samples INTEGER NOT NULL, PRIMARY KEY (folder, root))")
    db.execute("CREATE TABLE tag_figures (tag TEXT NOT NULL, source TEXT NOT NULL, "
               "samples INTEGER NOT NULL, PRIMARY KEY (tag, source))")
    for name, body in FIGURE_TRIGGERS.items():
        db.execute(f"CREATE TRIGGER {name} {body}")
    rebuild_figures(db)
    # The loudest first, ties by path: 'cat:snare,clap lufs:..-10 sort:lufs-' read m014's
    # (category, loudness_lufs, path) backwards, which gives equal loudnesses in reverse path
    # order, so SQLite sorted every run of equal values (8.8 ms at 100k samples whose
    # loudness repeats, seconds at 1M); in the listing's own directions it reads 50 entries
    # per category (0.12 ms, catalog._split_in). The ascending index served no order the
    # descending one does not (ASC NULLS LAST cannot come from either).
    # The same for 'type:loop sort:bpm-' (tempos repeat even more), from m014's (type, bpm,
    # path), which also serves 'type:loop bpm:120..128' as well in either direction.
    for old, name, columns in (
            ("idx_samples_category_loudness_lufs_path", "samples_category_loudest",
             "category, loudness_lufs DESC, path"),
            ("idx_samples_type_bpm_path", "samples_type_fastest", "type, bpm DESC, path"),
            # m008's (type, path) with the tempo: 'type:loop bpm:120..128' in path order
            # from the index alone (catalog._dense_range), 83k matches not read and sorted.
            ("idx_samples_type_path", "samples_type_path_bpm", "type, path, bpm")):
        db.execute(f"DROP INDEX IF EXISTS {old}")
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON samples ({columns})")
    if db["sqlite_stat1"].exists():
        db.execute("DELETE FROM sqlite_stat1 WHERE idx NOT IN "
                   "(SELECT name FROM sqlite_master WHERE type = 'index')")
        db.execute("ANALYZE samples_category_loudest")
        db.execute("ANALYZE samples_type_fastest")
        db.execute("ANALYZE samples_type_path_bpm")


@migrations()
def m019_category_type(db: sqlite_utils.Database) -> None:
    """The type counts beside a category filter (Library.facets('cat:kick'), the web UI's
    type facet) from an index of (category, type), which holds both: at 1M samples the
    count read every kick's wide row (about 300 ms of the 393 ms the facets of 'cat:kick'
    took). It also counts 'cat:kick type:oneshot' without reading a row."""
    db.execute("CREATE INDEX IF NOT EXISTS samples_category_type ON samples (category, type)")
    if db["sqlite_stat1"].exists():
        db.execute("ANALYZE samples_category_type")


# (the index it replaces, its name, its columns): for every column the web UI sorts by but
# type and category, each category's samples of each type in that column's order, with the
# path (ties): a page in that order, alone or with the UI's type and category filters, is the
# merge of a few walks of one index, each reading no entry the page does not need
# (catalog.Catalog._order_page); and m019's (category, type) with the path, which reads one
# category's loops or one-shots in path order (a page sorted by type or category,
# Catalog._value_walk). The name's own index goes: the query language compares lower(name),
# which no index serves.
SORT_INDEXES = (
    ("idx_samples_name", "samples_order_name", "category, type, name COLLATE NOCASE, path"),
    (None, "samples_order_bpm", "category, type, bpm, path"),
    (None, "samples_order_duration", "category, type, duration, path"),
    (None, "samples_order_loudness", "category, type, loudness_lufs, path"),
    (None, "samples_order_pitch", "category, type, pitch_hz, path"),
    (None, "samples_order_chord", "category, type, chord COLLATE NOCASE, path"),
    (None, "samples_order_camelot", "category, type, CAST(camelot AS INTEGER), camelot, path"),
    ("samples_category_type", "samples_category_type_path", "category, type, path"),
)


@migrations()
def m020_sort_orders(db: sqlite_utils.Database) -> None:
    """Pages in the order of every column the web UI sorts by, alone or with a type or
    category filter, read from an index in that order (catalog.Catalog._sorted_page):
    'type:oneshot sort:name' read and sorted 750k rows at 1M samples (3.2-3.5 s). The
    planner's statistics, if any, are refreshed for the new indexes only (as m018 and m019
    do)."""
    for old, name, columns in SORT_INDEXES:
        if old is not None:
            db.execute(f"DROP INDEX IF EXISTS {old}")
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON samples ({columns})")
    if db["sqlite_stat1"].exists():
        db.execute("DELETE FROM sqlite_stat1 WHERE idx NOT IN "
                   "(SELECT name FROM sqlite_master WHERE type = 'index')")
        for _, name, _ in SORT_INDEXES:
            db.execute(f"ANALYZE {name}")
