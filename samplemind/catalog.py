"""The SQLite catalog: every read and write of sample rows (the schema and its migrations are
in migrations.py, applied here when a file is opened).

Only the parent process writes. WAL mode with a busy timeout lets a CLI scan and a
running server share one file. Each committed change bumps the catalog
``generation`` so derived data (the vector index, maps) can tell it is stale.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import sqlite_utils

from .errors import CatalogError
from .migrations import migrations
from .models import RECORD_FIELDS, SCHEMA_VERSION
from .walcommits import open_seal

BUSY_TIMEOUT_MS = 10_000
WAL_CHECKPOINT_PAGES = 8192  # 32 MB of 4 KB pages (see Catalog._connect)
# UPDATE ... FROM (SQLite 3.33): many rows' new values in one statement (set_categories)
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
_ROWS_PER_UPDATE = 249  # 4 bound values each, +1: under 999, the limit of SQLite builds before 3.32
TAG_SEPARATOR = "\x1f"  # joins tags in one SQL row; never typed by a person


class FileState(NamedTuple):
    """What the catalog knows of one file, for change detection (Catalog.file_states)."""

    id: int
    size: int
    mtime_ns: int
    hash: str
    current: bool  # analysed by this extractor version (False: analyse it again)


class FailureState(NamedTuple):
    """A file whose last analysis failed, as it was then (Catalog.failure_states)."""

    size: int
    mtime_ns: int
    error: str


def now_iso() -> str:
    """UTC timestamp for the catalog, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


_TAG_LIST = ("(SELECT group_concat(tag, char(31)) FROM "
             "(SELECT tag FROM tags t WHERE t.sample_id = s.id ORDER BY tag))")
# The JSON record's fields in order, as one SELECT: schema_version is a constant and
# tags the joined tag list, every other field is the column of the same name.
_RECORD_SELECT = "SELECT " + ", ".join(
    str(SCHEMA_VERSION) if name == "schema_version" else
    _TAG_LIST if name == "tags" else f"s.{name}"
    for name in RECORD_FIELDS) + " FROM samples s"


class _MigrationRace(Exception):
    """Another process recorded a migration this one was applying."""


class Catalog:
    """One open catalog file. Not thread-safe: one per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            try:
                self.conn = self._connect(path)
                # data_version(): asked of SQLite only after the WAL's shared memory shows a
                # commit since the last ask (walcommits.py).
                self._seal = open_seal(path) if self._wal else None
                self._sealed_version: tuple[bytes, int] | None = None
                return
            except (sqlite3.OperationalError, _MigrationRace) as exc:
                # Several processes creating one new catalog race for the WAL switch and
                # the migrations; the loser waits and finds the work done.
                raced = ("locked" in str(exc) or "already exists" in str(exc)
                         or "duplicate column" in str(exc))  # a winner's ALTER TABLE
                if not (raced or isinstance(exc, _MigrationRace)) or attempt == 4:
                    raise CatalogError(f"cannot open the catalog {path}: {exc}") from exc
                time.sleep(0.2 * (attempt + 1))

    def _connect(self, path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._wal = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
            # NORMAL is durable across application crashes (kill -9) in WAL mode.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            # Queries re-read the same index and table pages: keep 32 MB of them cached
            # (measured in benchmarks/query.py; mmap was no faster and inflates RSS).
            connection.execute("PRAGMA cache_size = -32768")
            # Copy the WAL back into the database file once it holds WAL_CHECKPOINT_PAGES
            # pages rather than SQLite's 1,000: an answer in review mode rewrites ~2,000
            # rows at 100k samples (a page each), so with 1,000 every answer and every
            # undo paid a checkpoint of its own pages (~100 ms of its ~200-250 ms); now
            # one in several commits does, and a page written again in between (an answer
            # and its undo, a scan's batches) is copied once.
            connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            self.db = sqlite_utils.Database(connection)
            migrations.apply(self.db)
        except sqlite3.OperationalError:
            connection.close()
            raise
        except sqlite3.IntegrityError as exc:
            connection.close()
            if "_sqlite_migrations" in str(exc):
                # Another process applied the same migration first: each migration and its
                # record are one transaction, so ours was rolled back whole.
                raise _MigrationRace(str(exc)) from exc
            raise CatalogError(f"cannot open the catalog {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise CatalogError(
                f"cannot open the catalog {path}: {exc}. If the file is damaged, move it "
                "aside and scan again: cached analysis makes the rescan quick") from exc
        return connection

    next_generation = 1

    def close(self) -> None:
        """Close the connection."""
        self._seal = None  # its mapping may outlive the WAL's files once closed
        self.conn.close()

    def data_version(self) -> int:
        """SQLite's data_version: it moves when another connection commits. Kept while the
        WAL's shared memory shows no commit by anyone since it was read (walcommits.py);
        inside a transaction always asked (a snapshot's answer would be kept past its end).
        Not to be asked while a cursor of this connection is half read (a generator of rows
        left open): its snapshot would answer, and that answer be kept until the next
        commit. The readers that ask (the record cache, the change watcher) read no rows
        lazily on this connection."""
        seal = self._seal
        if seal is None or self.conn.in_transaction:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        sealed = self._sealed_version
        before = seal.read()
        if sealed is not None and before == sealed[0]:
            return sealed[1]
        version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        self._sealed_version = (before, version)
        return version

    def update_statistics(self, force: bool = False) -> bool:
        """Refresh the query planner's statistics (a full ANALYZE, 0.1 s per 100k samples)
        when the number of samples has moved by more than a quarter since the last time.
        Whether a listing reads its order index or its filter index depends on them; the
        sampled statistics of PRAGMA optimize (analysis_limit) mistook 6,250 kicks for 1,001
        and made 'cat:snare,clap sort:lufs-' 30 times slower. Returns True if it ran."""
        count = self.count()
        last = self.scalar("SELECT value FROM meta WHERE key = 'analysed_count'")
        if not force and last is not None and 0.8 * int(last) <= count <= 1.25 * int(last):
            return False
        try:
            self.conn.execute("PRAGMA analysis_limit = 0")
            self.conn.execute("ANALYZE")
            self.conn.execute("INSERT INTO meta (key, value) VALUES ('analysed_count', ?) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                              (str(count),))
        except sqlite3.Error:
            return False  # read-only or busy: the statistics can wait for another time
        return True

    # -- transactions and generation -------------------------------------------------

    @contextmanager
    def transaction(self, bump: bool = True) -> Iterator[None]:
        """One write transaction; bumps the generation when it commits (unless the change
        is bookkeeping that derived data doesn't depend on)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            # The generation this transaction will commit as: rows record it as
            # vector_generation so the index knows what changed since it was built.
            self.next_generation = self.generation + 1
            yield
            if bump:
                self.conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Several reads that see one consistent state of the catalog."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @property
    def generation(self) -> int:
        """A counter bumped by every committed change."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    # -- scan support -----------------------------------------------------------------

    @staticmethod
    def under_clause(root: str, folder: bool, column: str = "path") -> tuple[str, list[Any]]:
        """A WHERE clause for rows under a folder (by prefix) or for one file; `column` names
        the path column (e.g. "s.path" in a query with an alias).

        The prefix test is a range, prefix <= path < upper with upper the prefix whose
        final "/" becomes "0" (the next character), so it reads the path index (samples:
        idx_samples_path, failures: its primary key) instead of every row: 0.16 s -> well
        under a millisecond for a small folder of a 100k library. It means exactly
        "starts with prefix" because path compares with BINARY collation (memcmp of the
        UTF-8 bytes): a path in the range has the prefix's bytes up to its last, then a
        byte from "/" up to but not including "0", which is "/" itself. (tests/
        test_catalog_prefix.py checks the collation, the plan and the edge cases.)"""
        if not folder:
            return f"{column} = ?", [root]
        prefix = root.rstrip("/") + "/"
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return f"{column} >= ? AND {column} < ?", [prefix, upper]

    def file_states(self, root: str, folder: bool = True,
                    current_version: str | None = None) -> dict[str, FileState]:
        """path -> FileState for every sample under a root folder (or one file). Rows
        analysed by another extractor version than `current_version` are not `current`, so
        the scan takes them for changed and analyses them again."""
        where, params = self.under_clause(root, folder)
        rows = self.conn.execute(
            f"SELECT path, id, size, mtime_ns, hash, extractor_version FROM samples WHERE {where}",
            params)
        return {path: FileState(sid, size, mtime, digest, current_version in (None, version))
                for path, sid, size, mtime, digest, version in rows}

    def failure_states(self, root: str, folder: bool = True) -> dict[str, FailureState]:
        """path -> FailureState for files that failed under a root folder (or one file)."""
        where, params = self.under_clause(root, folder)
        rows = self.conn.execute(
            f"SELECT path, size, mtime_ns, error FROM failures WHERE {where}", params)
        return {path: FailureState(size, mtime, error) for path, size, mtime, error in rows}

    def ids_by_hash(self, digest: str) -> list[tuple[int, str]]:
        """(id, path) of samples whose file bytes hash to digest."""
        return list(self.conn.execute("SELECT id, path FROM samples WHERE hash = ?", (digest,)))

    def insert_sample(self, row: dict[str, Any]) -> int:
        """Add a sample row, or update it when another process added the path meanwhile
        (two scans at once); returns its id. row["id"], when given, is the id wanted
        (scan.number_new_files); taken by another file meanwhile, the row gets the next free
        one."""
        wanted = row.get("id")
        if "id" in row and (wanted is None or self.scalar(
                "SELECT 1 FROM samples WHERE id = ? AND path != ?", [wanted, row["path"]])):
            row = {column: value for column, value in row.items() if column != "id"}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{column} = excluded.{column}" for column in row
                            if column not in ("path", "id"))
        self.conn.execute(f"INSERT INTO samples ({columns}) VALUES ({marks}) "
                          f"ON CONFLICT(path) DO UPDATE SET {updates}", list(row.values()))
        return int(self.scalar("SELECT id FROM samples WHERE path = ?", [row["path"]]))

    def next_sample_id(self) -> int:
        """The id SQLite would give the next new sample (one past the highest)."""
        return int(self.scalar("SELECT coalesce(max(id), 0) + 1 FROM samples"))

    def update_sample(self, sample_id: int, row: dict[str, Any]) -> None:
        """Replace the given columns of one sample."""
        assignments = ", ".join(f"{column} = ?" for column in row)
        self.conn.execute(f"UPDATE samples SET {assignments} WHERE id = ?",
                          [*row.values(), sample_id])

    def delete_samples(self, ids: Sequence[int]) -> None:
        """Remove samples with their tags and overrides."""
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ", ".join("?" for _ in chunk)
            self.conn.executemany(
                "INSERT OR REPLACE INTO removed (sample_id, generation) VALUES (?, ?)",
                [(sample_id, self.next_generation) for sample_id in chunk])
            self.conn.execute(  # what each was, for the steps that must find its neighbours
                "UPDATE removed SET (vector, type, duration) = (SELECT vector, type, duration "
                "FROM samples WHERE samples.id = removed.sample_id) "
                f"WHERE sample_id IN ({marks})", chunk)
            for table, column in (("tags", "sample_id"), ("overrides", "sample_id"),
                                  ("favourites", "sample_id"), ("samples", "id")):
                self.conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)

    def record_failure(self, path: str, root: str, size: int, mtime_ns: int, error: str) -> None:
        """Remember that a file failed, so the next scan can report it without retrying."""
        self.conn.execute(
            "INSERT OR REPLACE INTO failures (path, root, size, mtime_ns, error, at) "
            "VALUES (?, ?, ?, ?, ?, ?)", (path, root, size, mtime_ns, error, now_iso()))

    def clear_failures(self, paths: Iterable[str]) -> None:
        """Forget failures of files that now analysed, or are gone."""
        self.conn.executemany("DELETE FROM failures WHERE path = ?", [(p,) for p in paths])

    def set_tags(self, sample_id: int, tags: Iterable[str], source: str) -> None:
        """Replace the tags of one source (never touches tags of other sources)."""
        self.conn.execute("DELETE FROM tags WHERE sample_id = ? AND source = ?",
                          (sample_id, source))
        self.conn.executemany(
            "INSERT OR IGNORE INTO tags (sample_id, tag, source) VALUES (?, ?, ?)",
            [(sample_id, tag, source) for tag in dict.fromkeys(tags)])

    def add_tags(self, ids: Sequence[int], tags: Sequence[str], source: str = "user") -> int:
        """Add tags to samples; returns how many (sample, tag) pairs were new."""
        # rowcount counts this statement's rows only, not the full-text triggers' work.
        cursor = self.conn.executemany(
            "INSERT OR IGNORE INTO tags (sample_id, tag, source) VALUES (?, ?, ?)",
            [(sample_id, tag, source) for sample_id in ids for tag in tags])
        return max(cursor.rowcount, 0)

    def remove_tags(self, ids: Sequence[int], tags: Sequence[str]) -> int:
        """Remove tags (of any source) from samples; returns how many went."""
        cursor = self.conn.executemany("DELETE FROM tags WHERE sample_id = ? AND tag = ?",
                                       [(sample_id, tag) for sample_id in ids for tag in tags])
        return max(cursor.rowcount, 0)

    def favourites(self, account: str) -> list[int]:
        """The ids of one account's favourites, the first marked first (rowid: in the order
        they were marked within the second `added` tells)."""
        rows = self.conn.execute(
            "SELECT sample_id FROM favourites WHERE account = ? ORDER BY added, rowid", (account,))
        return [row[0] for row in rows]

    def set_favourites(self, account: str, ids: Sequence[int], on: bool) -> int:
        """Mark (or unmark) samples as one account's favourites; returns how many changed."""
        if on:
            cursor = self.conn.executemany(
                "INSERT OR IGNORE INTO favourites (account, sample_id, added) VALUES (?, ?, ?)",
                [(account, sample_id, now_iso()) for sample_id in ids])
        else:
            cursor = self.conn.executemany(
                "DELETE FROM favourites WHERE account = ? AND sample_id = ?",
                [(account, sample_id) for sample_id in ids])
        return max(cursor.rowcount, 0)

    def clear_override(self, sample_id: int, field: str) -> None:
        """Forget a user correction: the field goes back to the best other evidence."""
        self.conn.execute("DELETE FROM overrides WHERE sample_id = ? AND field = ?",
                          (sample_id, field))

    def overrides(self, sample_id: int) -> dict[str, Any]:
        """User corrections of one sample: field -> value."""
        rows = self.conn.execute("SELECT field, value FROM overrides WHERE sample_id = ?",
                                 (sample_id,))
        return {field: json.loads(value) for field, value in rows}

    def set_override(self, sample_id: int, field: str, value: Any) -> None:
        """A user correction of one field (survives rescans and re-analysis)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO overrides (sample_id, field, value, set_at) VALUES (?, ?, ?, ?)",
            (sample_id, field, json.dumps(value), now_iso()))

    def set_categories(self, rows: Sequence[tuple[str | None, float | None, str | None, int]],
                       only_from: str | None = None) -> None:
        """Write (category, confidence, source, id) rows in one commit. With `only_from`,
        only to samples whose category still comes from that source (a name or correction
        that arrived in between wins)."""
        if not rows:
            return
        with self.transaction():
            self.write_categories(rows, only_from)

    def write_categories(self, rows: Sequence[tuple[str | None, float | None, str | None, int]],
                         only_from: str | None = None) -> None:
        """set_categories inside a transaction the caller holds (outside one, each batch
        would commit on its own, without the generation bump the change feed waits for)."""
        if not rows:
            return
        assert self.conn.in_transaction, "write_categories needs the caller's transaction"
        sql = ("UPDATE samples SET category = ?, category_confidence = ?, category_source = ? "
               "WHERE id = ?")
        if not _UPDATE_FROM or len({row[3] for row in rows}) < len(rows):
            # (a sample given twice: one statement per row, in order, as given)
            if only_from is None:
                self.conn.executemany(sql, rows)
            else:
                self.conn.executemany(sql + " AND category_source = ?",
                                      [(*row, only_from) for row in rows])
            return
        # A few hundred rows per statement rather than one: each statement that fires
        # the change-feed trigger opens a statement journal and copies into it the
        # pages it rewrites (sample_changes' newest entries every time), so one per row
        # cost about as much as the rows themselves (1,985 rows of the 100k catalog of
        # benchmarks/review.py --time-at: 72 -> 44 ms of CPU). The same rows change alike.
        guard = " AND samples.category_source = ?" if only_from is not None else ""
        for start in range(0, len(rows), _ROWS_PER_UPDATE):
            chunk = rows[start:start + _ROWS_PER_UPDATE]
            values = ", ".join("(?, ?, ?, ?)" for _ in chunk)
            params = [value for row in chunk for value in row]
            self.conn.execute(
                "UPDATE samples SET category = v.column1, category_confidence = v.column2, "
                f"category_source = v.column3 FROM (VALUES {values}) AS v "
                f"WHERE samples.id = v.column4{guard}",
                params if only_from is None else [*params, only_from])

    def resume_point(self, read_at: int, wrote: bool) -> int:
        """Where a step that read the catalog at generation `read_at` (and committed once
        more if `wrote`) may start next time: now, when no one else committed in between;
        else `read_at`, so their changes are not skipped."""
        current = self.generation
        return current if current == read_at + (1 if wrote else 0) else read_at

    def set_meta(self, values: dict[str, str]) -> None:
        """Store bookkeeping values (where a post-scan step may start next time); this is
        not a catalog change, so the generation stays."""
        with self.transaction(bump=False):
            self.write_meta(values)

    def write_meta(self, values: dict[str, str]) -> None:
        """set_meta inside a transaction the caller holds."""
        self.conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", list(values.items()))

    def note_root(self, root: str) -> None:
        """Remember a scanned root folder."""
        stamp = now_iso()
        self.conn.execute(
            "INSERT INTO roots (path, added_at, last_scan_at) VALUES (?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET last_scan_at = excluded.last_scan_at",
            (root, stamp, stamp))

    # -- vectors ----------------------------------------------------------------------

    def vectors(self, where: str = "", params: Sequence[Any] = (),
                dim: int | None = None) -> tuple[Any, Any]:
        """(ids, raw vectors) of samples that have one, as int64 and float32 arrays. With
        dim, only vectors of that length (rows from an older extractor wait for a rescan)."""
        import numpy as np

        sql = "SELECT id, vector FROM samples s WHERE length(s.vector) > 0"
        args = list(params)
        if dim is not None:
            sql += " AND length(s.vector) = ?"
            args = [dim * 4, *args]
        if where:
            sql += f" AND ({where})"
        ids: list[int] = []
        blobs: list[bytes] = []
        for sample_id, blob in self.conn.execute(sql + " ORDER BY s.id", args):
            ids.append(sample_id)
            blobs.append(blob)
        sizes = {len(blob) for blob in blobs}
        if len(sizes) > 1:  # mixed layouts and no dim given: keep the commonest
            size = max(sizes, key=lambda d: sum(len(b) == d for b in blobs))
            kept = [(i, b) for i, b in zip(ids, blobs) if len(b) == size]
            ids, blobs = [i for i, _ in kept], [b for _, b in kept]
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32)
        width = len(blobs[0]) // 4 if blobs else (dim or 0)
        return (np.asarray(ids, dtype=np.int64),
                matrix.reshape(len(ids), width) if blobs else np.zeros((0, width), np.float32))

    def vector_changes(self, since: int) -> tuple[list[int], list[int]]:
        """(changed ids, removed ids) after generation `since`."""
        changed = [row[0] for row in self.conn.execute(
            "SELECT id FROM samples WHERE vector_generation > ?", (since,))]
        removed = [row[0] for row in self.conn.execute(
            "SELECT sample_id FROM removed WHERE generation > ?", (since,))]
        return changed, removed

    def changes_since(self, generation: int) -> tuple[int, list[int], list[int]]:
        """(current generation, ids changed after `generation`, ids removed after it),
        read in one snapshot. Removals at or before oldest_removal_kept() may have been
        pruned: a reader behind that must re-list the ids to find them."""
        with self.snapshot():
            current = self.generation
            # Sorted here, not by ORDER BY sample_id: that makes SQLite walk the primary
            # key (every row) instead of the generation index (the changed rows).
            changed = sorted(row[0] for row in self.conn.execute(
                "SELECT sample_id FROM sample_changes WHERE generation > ?", (generation,)))
            present = set(changed)
            # An id removed and later reused by a new row is a change, not a removal.
            removed = sorted(row[0] for row in self.conn.execute(
                "SELECT sample_id FROM removed WHERE generation > ?", (generation,))
                if row[0] not in present)
        return current, changed, removed

    def removed_sounds(self, ids: Sequence[int]) -> list[tuple[int, bytes | None, str | None,
                                                               float | None]]:
        """(id, raw vector, type, duration) of removed samples still in the removal log."""
        out: list[tuple[int, bytes | None, str | None, float | None]] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ", ".join("?" for _ in chunk)
            out += self.query("SELECT sample_id, vector, type, duration FROM removed "
                              f"WHERE sample_id IN ({marks})", chunk)
        return out

    def oldest_removal_kept(self) -> int:
        """Removals at or before this generation may have been forgotten (pruned); every
        removal after it is still listed."""
        value = self.scalar("SELECT value FROM meta WHERE key = 'removed_pruned_through'")
        return int(value) if value else 0

    def prune_removed(self, through: int) -> None:
        """Forget removals the saved index has already applied (those at or before
        generation `through`). oldest_removal_kept() moves to the generation of the latest
        removal forgotten, not to `through`: a follower behind `through` but past every
        removal forgotten (the server's change feed one scan behind the index it saved)
        still reads what was removed since from the log, rather than every id (a million
        at 1M samples, 0.5 s, in the path of the scan's samples.added event). Nothing to
        forget, nothing written."""
        with self.transaction(bump=False):
            latest = self.scalar("SELECT max(generation) FROM removed WHERE generation <= ?",
                                 [through])
            if latest is None:
                return
            self.conn.execute("DELETE FROM removed WHERE generation <= ?", (through,))
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('removed_pruned_through', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = max(CAST(value AS INTEGER), "
                "CAST(excluded.value AS INTEGER))", (str(latest),))

    # -- reading back -----------------------------------------------------------------

    def records(self, where: str = "", params: Sequence[Any] = (), order_by: str = "s.path",
                limit: int | None = None, offset: int = 0) -> Iterator[dict[str, Any]]:
        """Stream the JSON records (models.RECORD_FIELDS, in order) of the samples matching
        a WHERE clause, skipping the first `offset`. Built straight from the row: this is
        the hot path of ls, get, similar and the server."""
        sql = _RECORD_SELECT
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order_by}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, -1 if limit is None else limit, offset]
        loads = orjson.loads  # a third of json.loads's time, and this runs per record
        for values in self.conn.execute(sql, list(params)):
            record = dict(zip(RECORD_FIELDS, values))
            tags = record["tags"]
            record["tags"] = tags.split("\x1f") if tags else []
            alternatives = record["bpm_alternatives"]
            record["bpm_alternatives"] = (loads(alternatives) if alternatives and
                                          alternatives != "null" else None)
            warnings = record["warnings"]
            if warnings is not None:
                record["warnings"] = loads(warnings)
            yield record

    def ids(self, where: str = "", params: Sequence[Any] = (), order_by: str = "s.path",
            limit: int | None = None, offset: int = 0) -> list[int]:
        """The ids of the samples matching a WHERE clause, in order, from the offset-th on: the
        `records` query without the record. It reads only what the WHERE and ORDER BY name, so
        an index holding those columns (every index holds the id) answers it alone."""
        # The path is never NULL: its order is the path index's in either direction.
        order_by = _PATH_ORDERS.get(order_by, order_by)
        if limit is not None and offset + limit <= MAX_SPLIT_ROWS:
            page = self._sorted_page(where, params, order_by, offset + limit)
            if page is not None:
                return page[offset:offset + limit]
        split = _split_in(where, params, order_by, limit, offset)
        if split is not None:
            sql, values = split
            return [row[0] for row in self.conn.execute(sql, values)]
        wanted = offset + (limit or 0)
        if limit is not None and order_by == "s.path" and where and wanted <= MAX_SPLIT_ROWS \
                and not _ONE_LIST.fullmatch(where):  # its (column, path) index is the page
            steps = self._path_plan(where, params, wanted)
            if self._few_matches(where, params, wanted, steps):
                order_by = "+s.path"  # the same order, read by the filter and sorted
            else:
                where = self._dense_range(where, params, wanted, steps)
        sql = "SELECT s.id FROM samples s" + (f" WHERE {where}" if where else "")
        sql += f" ORDER BY {order_by} LIMIT ? OFFSET ?"
        rows = self.conn.execute(sql, [*params, -1 if limit is None else limit, offset])
        return [row[0] for row in rows]

    # -- pages in a column's order (the web UI's column sorts; indexes of migration m020) ---

    def _sorted_page(self, where: str, params: Sequence[Any], order_by: str,
                     wanted: int) -> list[int] | None:
        """The first `wanted` ids of a listing sorted by one column (`sort:name`, `sort:bpm-`,
        ... then ties by path), whatever the planner's statistics, when the filter is none or
        lists of types and categories (the web UI's column sorts with its facets); None for
        any other listing. SQLite cannot read `ORDER BY x ASC NULLS LAST` from an index (the
        NULLs come first there), nor `x DESC, path ASC` past a long run of equal x (it sorts
        the whole run), so `type:oneshot sort:name` read and sorted 750k rows (3.2 s at 1M).
        Here each statement reads an index in the column's own order, named (INDEXED BY), so
        the plan is the same with any statistics: _order_page for most columns, _value_walk
        for type and category."""
        match = _ORDER_KEY.fullmatch(order_by) or _CAMELOT_ORDER.fullmatch(order_by)
        if match is None:
            return None
        expr = match.groupdict().get("expr") or _CAMELOT_KEY
        direction = match.group("dir")
        if expr not in _ORDER_INDEXES and expr not in _VALUE_WALKS:
            return None
        lists = _list_filter(where, params) if where else {}
        if lists is None:
            return None
        if expr in _VALUE_WALKS:
            return self._value_walk(where, params, expr, direction, wanted)
        if len(lists) == 1:
            (column, values), = lists.items()
            direct = _DIRECT_ORDERS.get((column, expr, direction))
            if direct is not None and len(values) == 1:  # one index in exactly this order
                return [row[0] for row in self.conn.execute(
                    f"SELECT s.id FROM samples s INDEXED BY {direct} WHERE {where} "
                    f"ORDER BY {order_by} LIMIT ?", [*params, wanted])]
        return self._order_page(where, params, expr, direction, order_by, wanted, lists)

    def _values(self, column: str, index: str) -> list[Any]:
        """The distinct values of a column of a few, one seek each in an index that begins
        with it (NULL not among them); more than MAX_WALKED_VALUES: None at the end."""
        values: list[Any] = []
        value = self.scalar(f"SELECT s.{column} FROM samples s INDEXED BY {index} WHERE "
                            f"s.{column} IS NOT NULL ORDER BY s.{column} LIMIT 1")
        while value is not None:
            values.append(value)
            if len(values) > MAX_WALKED_VALUES:
                values.append(None)
                break
            value = self.scalar(f"SELECT s.{column} FROM samples s INDEXED BY {index} WHERE "
                                f"s.{column} > ? ORDER BY s.{column} LIMIT 1", [value])
        return values

    def _list_filter_count(self, where: str, params: Sequence[Any]) -> int:
        """How many samples a filter of type and category lists matches: from the figures the
        triggers keep (m018) unless a value is 'unknown' (which the figures also count missing
        values as), then counted by the filter's index."""
        lists = _list_filter(where, params)
        assert lists is not None
        if any("unknown" in values for values in lists.values()):
            return int(self.scalar("SELECT count(*) FROM samples s WHERE " + where, params))
        terms = [f"{column} IN ({', '.join('?' * len(values))})" for column, values in lists.items()]
        values = [value for column_values in lists.values() for value in column_values]
        return int(self.scalar("SELECT coalesce(sum(samples), 0) FROM library_figures WHERE "
                               + " AND ".join(terms), values))

    def _streams(self, lists: dict[str, list[Any]]) -> list[tuple[str, list[Any]]] | None:
        """(condition, parameters) of each (category, type) the filter can match that has
        samples (_pairs): a missing value is a pair of its own (IS NULL), which a list (IN)
        never matches, and the word 'unknown' is only itself. None past MAX_STREAMS pairs or
        MAX_WALKED_VALUES categories."""
        pairs = self._pairs(lists)
        if pairs is None:
            return None
        return [(("s.category IS NULL" if category is None else "s.category = ?") + " AND "
                 + ("s.type IS NULL" if kind is None else "s.type = ?"),
                 [value for value in (category, kind) if value is not None])
                for category, kind in pairs]

    def _pairs(self, lists: dict[str, list[Any]]) -> list[tuple[Any, Any]] | None:
        """The (category, type) pairs that have samples and that the filter's lists allow
        (None: a missing value), read from the samples themselves: not from the figures (m018),
        which a catalog written around their triggers or a damaged figures row would make hide
        every sample of a pair. A skip-scan of m020's (category, type, path), one seek per
        category and one per pair, done by SQLite in two statements (_CATEGORY_WALK, then
        _TYPE_WALK or _TYPE_PROBES): a few dozen seeks, the same plan whatever the planner's
        statistics. None past MAX_WALKED_VALUES categories or MAX_STREAMS pairs (the caller
        reads the page the one-statement way)."""
        if "category" in lists:
            categories = lists["category"]  # an IN list never matches a missing value
        else:
            categories = [row[0] for row in self.conn.execute(_CATEGORY_WALK, [MAX_WALKED_VALUES + 1])]
            if sum(category is not None for category in categories) > MAX_WALKED_VALUES:
                return None
        types = lists.get("type")
        if not categories or types == []:
            return []
        bound = [*categories, *(types or [])]
        if len(bound) >= self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER):
            return None
        rows = ", ".join("(?)" for _ in categories)
        sql = f"WITH RECURSIVE categories(category) AS (VALUES {rows}), "
        if types is None:
            sql += _TYPE_WALK
        else:
            sql += f"types(type) AS (VALUES {', '.join('(?)' for _ in types)}) {_TYPE_PROBES}"
        pairs = self.query(f"{sql} LIMIT ?", [*bound, MAX_STREAMS + 1])
        return None if len(pairs) > MAX_STREAMS else pairs

    def _order_page(self, where: str, params: Sequence[Any], expr: str, direction: str,
                    order_by: str, wanted: int, lists: dict[str, list[Any]]) -> list[int] | None:
        """A page in the order of a column, read from m020's index of (category, type, the
        column, path): one stream per (category, type) the filter can match that has samples
        (_pairs: seeks, not the figures), each read in the column's order and exactly the
        filter's, merged by one UNION ALL per step. The column's value at the page's end (the
        `wanted`-th of the streams' first `wanted` entries each, NULLs skipped: the index's
        range starts past them); the fewer than `wanted` samples before it, read and sorted; then the samples
        equal to it in path order (a long run of equal tempos is read `wanted` entries deep,
        not sorted); after every value, the samples without one, in path order."""
        streams = self._streams(lists)
        if streams is None:
            return None
        if not streams:
            return []
        # Each arm binds the filter's values again: past SQLite's variable limit (32766 in
        # most builds) the one-statement way, which binds them once, answers instead.
        if len(streams) * (len(params) + 4) > self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER):
            return None
        index = _ORDER_INDEXES[expr]
        keys = expr.split(", ")  # the Camelot wheel's two, else one
        named = [key.replace(" COLLATE NOCASE", "") for key in keys]
        collate = [" COLLATE NOCASE" if "NOCASE" in key else "" for key in keys]
        filtered = f"{where} AND " if where else ""

        def union(select: str, condition: str, tail: str, extra: Sequence[Any],
                  outer: str, outer_bound: Sequence[Any]) -> list[tuple[Any, ...]]:
            arms, bound = [], []
            for stream, values in streams:
                arms.append(f"SELECT * FROM (SELECT {select} FROM samples s INDEXED BY {index} "
                            f"WHERE {stream} AND {filtered}{condition}{tail})")
                bound += [*values, *params, *extra]
            return self.query(f"SELECT * FROM ({' UNION ALL '.join(arms)}) {outer}",
                              [*bound, *outer_bound])

        keyed = ", ".join(f"{name} AS k{i}" for i, name in enumerate(named))
        sorted_keys = ", ".join(f"k{i}{collate[i]} {direction}" for i in range(len(keys)))
        order = ", ".join(f"{key} {direction}" for key in keys)
        valued = _HAS_VALUE.get(expr, f"{keys[0]} IS NOT NULL")
        last = union(keyed, valued, f" ORDER BY {order} LIMIT ?", [wanted],
                     f"ORDER BY {sorted_keys} LIMIT 1 OFFSET ?", [wanted - 1])
        rows = f"s.id, {keyed}, s.path AS p"
        if not last:  # fewer than `wanted` have a value: all of them, then the rest
            ids = [row[0] for row in union(rows, valued, "", [], f"ORDER BY {sorted_keys}, p", [])]
            missing = " AND ".join(f"{key} IS NULL" for key in keys)  # one is NULL: all are
            ids += [row[0] for row in union(
                "s.id, s.path AS p", missing, " ORDER BY s.path LIMIT ?", [wanted - len(ids)],
                "ORDER BY p LIMIT ?", [wanted - len(ids)])]
            return ids
        at = list(last[0])
        before = "<" if direction == "ASC" else ">"
        row = f"({expr})" if len(keys) > 1 else expr
        marks = ", ".join("?" for _ in keys)
        # Descending, the page's own bound is the only lower one (with `valued` too SQLite may
        # take the least text instead). The Camelot wheel's two keys are two ranges of the
        # index, the numbers before and the letters before within the number (a row value
        # is none: it read the page's whole run of equal codes).
        lower = f"{valued} AND " if direction == "ASC" else ""
        ranges = [(f"{lower}{keys[0]} {before} ?", at[:1])]
        if len(keys) > 1:
            ranges.append((f"{keys[0]} = ? AND {keys[1]} {before} ?", at))
        ids = []
        for condition, bound in ranges:
            ids += [r[0] for r in union(rows, condition, "", bound, f"ORDER BY {sorted_keys}, p", [])]
        ids += [r[0] for r in union(
            "s.id, s.path AS p", f"{row} = ({marks})", " ORDER BY s.path LIMIT ?",
            [*at, wanted - len(ids)], "ORDER BY p LIMIT ?", [wanted - len(ids)])]
        return ids

    def _value_walk(self, where: str, params: Sequence[Any], expr: str, direction: str,
                    wanted: int) -> list[int]:
        """A page in the order of type or category: the column's values, found by one seek
        each in an index that begins with it, put in the sort's order (by SQLite, with the
        listing's own expression), then each value's matches in path order from m008's
        (category, path), m018's (type, path, bpm) or m020's (category, type, path) (when the
        filter names the other column) until the page is full, and the samples without a value
        last. Values equal in the sort (Kick and kick under NOCASE) are read together and
        sorted."""
        column, own, paired = _VALUE_WALKS[expr]
        other = "s.category" if column == "type" else "s.type"
        index = paired if other in where else own
        values = self._values(column, own)
        if values and values[-1] is None:  # too many to walk one by one: read and sorted
            return self._sorted_values(where, params, expr, direction, wanted)
        if values:
            marks = ", ".join("(?)" for _ in values)
            keyed = expr.replace(f"s.{column}", "column1")
            order = ", ".join(f"{part} {direction}" for part in keyed.split(", "))
            values = [row[0] for row in self.conn.execute(
                f"SELECT column1 FROM (VALUES {marks}) ORDER BY {order}, column1", values)]
        groups: list[list[Any]] = []
        for value in values:  # equal under the sort: only NOCASE text can be, and only by case
            if groups and "NOCASE" in expr and isinstance(value, str) and \
                    isinstance(groups[-1][0], str) and _ascii_lower(groups[-1][0]) == _ascii_lower(value):
                groups[-1].append(value)
            else:
                groups.append([value])
        base = f"SELECT s.id FROM samples s INDEXED BY {index} WHERE " + (f"{where} AND " if where else "")
        ids: list[int] = []
        for group in [*groups, None]:
            if group is None:
                term, bound = f"s.{column} IS NULL", []
            elif len(group) == 1:
                term, bound = f"s.{column} = ?", group
            else:
                term, bound = f"s.{column} IN ({', '.join('?' * len(group))})", group
            ids += [row[0] for row in self.conn.execute(
                f"{base}{term} ORDER BY s.path LIMIT ?", [*params, *bound, wanted - len(ids)])]
            if len(ids) >= wanted:
                break
        return ids

    def _sorted_values(self, where: str, params: Sequence[Any], expr: str, direction: str,
                       wanted: int) -> list[int]:
        """A page of a column with too many values to walk one by one: read and sorted."""
        order_by = ", ".join(f"{part} {direction} NULLS LAST" for part in expr.split(", "))
        sql = ("SELECT s.id FROM samples s" + (f" WHERE {where}" if where else "")
               + f" ORDER BY {order_by}, s.path LIMIT ?")
        return [row[0] for row in self.conn.execute(sql, [*params, wanted])]

    def _path_plan(self, where: str, params: Sequence[Any], wanted: int) -> list[str]:
        """SQLite's plan of a page of `wanted` ids in path order (EXPLAIN QUERY PLAN's steps)."""
        sql = f"SELECT s.id FROM samples s WHERE {where} ORDER BY s.path LIMIT ?"
        return [str(row[-1]) for row in
                self.conn.execute("EXPLAIN QUERY PLAN " + sql, [*params, wanted])]

    def _few_matches(self, where: str, params: Sequence[Any], wanted: int,
                     steps: list[str]) -> bool:
        """True when a page in path order is better read through the filter's own index and
        sorted: SQLite, told LIMIT, walks an index in path order testing each row for the
        rest of the filter, hoping to meet `wanted` matches soon; 'cat:snare type:loop' at 1M
        walked (category, path) through 150k snares' rows for no loop (0.3-4 s), and
        'cat:kick bpm:..100' through every kick. When fewer than sqrt(4 x wanted x samples)
        match (the bound of _dense_range, counted by the filter's indexes and stopped there),
        reading them all and sorting costs less than such a walk can. A walk of a covering
        index (rows not read) or a plan that sorts anyway is left as it is. `steps`: the
        page's plan (_path_plan)."""
        if len(steps) != 1 or not steps[0].startswith(("SEARCH s USING INDEX ", "SCAN s USING INDEX ")):
            return False
        return self._many_match(where, params, wanted, index_only=True) is False

    def _many_match(self, where: str, params: Sequence[Any], wanted: int,
                    index_only: bool = False) -> bool | None:
        """Whether at least sqrt(4 x wanted x samples) samples match, the bound past which a
        page in path order is better walked than read and sorted (a count that stops there,
        ~1 ms at 1M); None when index_only and the count would read table rows."""
        enough = math.isqrt(4 * wanted * max(self.count(), 1))
        count = f"SELECT count(*) FROM (SELECT 1 FROM samples s WHERE {where} LIMIT ?)"
        if index_only and not self._reads_index_only(count, [*params, enough]):
            return None
        return int(self.scalar(count, [*params, enough])) >= enough

    def _reads_index_only(self, sql: str, params: Sequence[Any]) -> bool:
        """True when SQLite's plan for sql reads index entries only, no table row: the few
        matches' count must, since counting through rows (a term no index holds: fmt:, sr:, a
        descriptor) reads up to `enough` wide rows where the walk it would replace may stop
        after `wanted` (fmt:wav at 1M: 0.06 ms walked, 55 ms counted)."""
        plan = [str(row[-1]) for row in self.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        return bool(plan) and all("COVERING INDEX" in step or step.startswith(("CO-ROUTINE", "SCAN ("))
                                  for step in plan)

    def _dense_range(self, where: str, params: Sequence[Any], wanted: int,
                     steps: list[str] | None = None) -> str:
        """The WHERE clause of a page in path order, its ranges kept out of index lookups
        when that reads the page straight from one index in path order (no sort) and the
        filter matches too many samples to read and sort them: 'type:loop bpm:120..128' at 1M
        matches 83k loops (13 ms read by tempo and sorted; 0.05 ms walking m018's (type,
        path, bpm) and testing the tempo in it). Too many: at least sqrt(4 x wanted x
        samples), a count that stops there (~1 ms at 1M); fewer are sorted as before. Only
        when the walk is of one covering index, so a walk whose first paths all miss
        (tempos sorted into folders) reads index entries, not rows. A unary + keeps a column
        out of index lookups, not out of the comparison: the same rows. `steps`: the page's
        plan when the caller has it (_path_plan)."""
        if not where or wanted > MAX_SPLIT_ROWS or _RANGE.search(where) is None:
            return where
        if steps is None:
            steps = self._path_plan(where, params, wanted)
        if not any("B-TREE FOR ORDER BY" in step for step in steps):
            return where
        walked = _RANGE.sub(r"+\1 \2 ?", where)
        steps = self._path_plan(walked, params, wanted)
        if len(steps) != 1 or "COVERING INDEX" not in steps[0]:
            return where
        return walked if self._many_match(where, params, wanted) else where

    def explain_records(self, where: str = "", params: Sequence[Any] = (),
                        order_by: str = "s.path") -> str | None:
        """SQLite's complaint about the `records` query for these pieces, or None when it would
        run. Only prepared (EXPLAIN), never run: cheap on any library."""
        sql = _RECORD_SELECT + (f" WHERE {where}" if where else "") + f" ORDER BY {order_by}"
        try:
            self.conn.execute("EXPLAIN " + sql, list(params)).fetchone()
        except sqlite3.Error as error:  # too many terms, too deep, too many parameters, ...
            return str(error)
        return None

    def full_rows(self, where: str = "", params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Every column of the matching samples (with the bulky analysis JSON, vector and
        peaks), by id."""
        cursor = self.conn.execute(
            "SELECT * FROM samples" + (f" WHERE {where}" if where else "") + " ORDER BY id",
            list(params))
        names = [description[0] for description in cursor.description]
        for values in cursor:
            yield dict(zip(names, values))

    def full_row(self, sample_id: int) -> dict[str, Any] | None:
        """Every column of one sample, or None."""
        return next(self.full_rows("id = ?", [sample_id]), None)

    # -- the library's figures (tables kept by the triggers of migration m018) --------------

    def figures(self) -> dict[str, Any]:
        """Samples, duration and size of the whole library, and samples by type, category and
        format (each "unknown" when missing), most first then by name: read from
        library_figures, a row per (type, category, format), not from the samples."""
        rows = self.query("SELECT type, category, format, samples, duration, size "
                          "FROM library_figures WHERE samples > 0")

        def grouped(position: int) -> dict[str, int]:
            counts: dict[str, int] = {}
            for row in rows:
                name = str(row[position])
                counts[name] = counts.get(name, 0) + row[3]
            return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))

        return {"samples": sum(row[3] for row in rows),
                "duration": math.fsum(row[4] for row in rows),
                "size": sum(row[5] for row in rows),
                "by_type": grouped(0), "by_category": grouped(1), "by_format": grouped(2)}

    def tag_figures(self, limit: int = -1) -> list[tuple[str, int, list[str]]]:
        """(tag, samples that carry it, its sources) of every tag (or the `limit` most used),
        most used first then by name: from tag_figures, not from the tags."""
        rows = self.query("SELECT tag, sum(samples), group_concat(source, char(31)) FROM "
                          "tag_figures WHERE samples > 0 GROUP BY tag ORDER BY 2 DESC, 1 LIMIT ?",
                          [limit])
        return [(tag, count, sorted(source for source in sources.split(TAG_SEPARATOR) if source))
                for tag, count, sources in rows]

    def facet_counts(self, where: str = "", params: Sequence[Any] = (), *,
                     tags: int = 100, folders: int = 300) -> dict[str, Any]:
        """How the samples matching a WHERE clause split by category, type, tag (the most
        used) and folder (relative to its root, the fullest first). Every sample's (no
        WHERE) are read from the figures tables (m018), not the samples."""
        if not where:
            return self._library_facets(tags, folders)
        clause = f" WHERE {where}" if where else ""

        def grouped(column: str) -> dict[str, int]:
            rows = self.conn.execute(
                f"SELECT coalesce(s.{column}, 'unknown'), count(*) FROM samples s{clause} "
                "GROUP BY 1 ORDER BY 2 DESC, 1", list(params))
            return {str(name): count for name, count in rows}

        tag_rows = self.conn.execute(
            "SELECT t.tag, count(DISTINCT t.sample_id) FROM tags t JOIN samples s ON s.id = t.sample_id"
            f"{clause} GROUP BY t.tag ORDER BY 2 DESC, 1 LIMIT ?", [*params, tags])
        folder_rows = self._folder_counts(clause, params, folders)
        return self._facets(grouped("category"), grouped("type"), tag_rows, folder_rows)

    def _folder_counts(self, clause: str, params: Sequence[Any],
                       limit: int) -> list[tuple[str, str | None, int]]:
        """(folder, root, samples) of the fullest folders among a WHERE clause's matches, the
        fullest first. Only the paths are read, which the indexes a filter walks mostly hold
        (a million wide rows are not read: 2.7 s -> 0.4 s for 750k matches), and grouped
        here, faster than SQLite's string functions; each folder's root comes from the
        figures the triggers keep (m018). A folder that holds files of more than one root
        (nested roots) is counted by the exact query instead."""
        counts: dict[str, int] = {}
        for (path,) in self.conn.execute(f"SELECT s.path FROM samples s{clause}", list(params)):
            folder = path.rpartition("/")[0]
            counts[folder] = counts.get(folder, 0) + 1
        fullest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        roots: dict[str, list[str]] = {}
        names = [folder for folder, _ in fullest]
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            for folder, root in self.conn.execute(
                    "SELECT folder, root FROM folder_figures WHERE samples > 0 AND folder IN "
                    f"({', '.join('?' * len(chunk))})", chunk):
                roots.setdefault(folder, []).append(root)
        if all(len(roots.get(folder, ())) == 1 for folder in names):
            return [(folder, roots[folder][0], count) for folder, count in fullest]
        # The folder in SQL as the figures' triggers write it (migrations._folder), grouped
        # with its root.
        return self.conn.execute(
            "SELECT CASE WHEN substr(s.path, length(s.path) - length(s.name)) = '/' || s.name "
            "THEN substr(s.path, 1, length(s.path) - length(s.name) - 1) "
            "ELSE rtrim(s.path, replace(s.path, '/', '')) END AS folder, s.root, count(*) "
            f"FROM samples s{clause} GROUP BY folder, s.root ORDER BY 3 DESC, 1 LIMIT ?",
            [*params, limit]).fetchall()

    def _library_facets(self, tags: int, folders: int) -> dict[str, Any]:
        figures = self.figures()
        tag_rows = [(tag, count) for tag, count, _ in self.tag_figures(tags)]
        folder_rows = self.query("SELECT folder, root, samples FROM folder_figures WHERE "
                                 "samples > 0 ORDER BY 3 DESC, 1, 2 LIMIT ?", [folders])
        return self._facets(figures["by_category"], figures["by_type"], tag_rows, folder_rows)

    @staticmethod
    def _facets(by_category: dict[str, int], by_type: dict[str, int],
                tag_rows: Iterable[tuple[str, int]],
                folder_rows: Iterable[tuple[str, str | None, int]]) -> dict[str, Any]:
        found = [(folder.rstrip("/") or "/", root or "", count) for folder, root, count in folder_rows]
        return {
            "by_category": by_category, "by_type": by_type,
            "tags": [{"tag": tag, "count": count} for tag, count in tag_rows],
            "folders": sorted(({"path": folder, "folder": _relative_folder(folder, root), "count": count}
                               for folder, root, count in found), key=lambda item: item["path"]),
        }

    def count(self, where: str = "", params: Sequence[Any] = ()) -> int:
        """Number of samples matching a WHERE clause (every sample's: from the figures the
        triggers keep, m018, instead of a walk of an index of every row)."""
        if not where:
            return int(self.scalar("SELECT coalesce(sum(samples), 0) FROM library_figures"))
        lists = _list_filter(where, params)
        if lists is not None and not any("unknown" in values for values in lists.values()):
            # lists of types and categories (the web UI's facets): from the same figures, not
            # a walk of 750k index entries for type:oneshot (~40 ms at 1M)
            return self._list_filter_count(where, params)
        sql = "SELECT count(*) FROM samples s WHERE " + where
        return int(self.conn.execute(sql, list(params)).fetchone()[0])

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One value from a read query."""
        row = self.conn.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a read query."""
        return list(self.conn.execute(sql, list(params)))

    # -- review mode (review.py; tables of migration m013) ------------------------------

    def review_states(self, ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
        """(id, type, type_confidence, type_source, category, category_confidence,
        category_source) of the samples `ids` (None: of every sample): what the review
        picker weighs."""
        sql = ("SELECT id, type, type_confidence, type_source, category, "
               "category_confidence, category_source FROM samples")
        if ids is None:
            return self.query(sql)
        out: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(ids)):
            marks = ", ".join("?" for _ in chunk)
            out.extend(self.conn.execute(f"{sql} WHERE id IN ({marks})", chunk))
        return out

    def review_rows(self, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """id -> (path, name, duration, category, category_confidence, type,
        type_confidence): what a review question shows of each sample."""
        out: dict[int, tuple[Any, ...]] = {}
        for chunk in _chunks(list(ids)):
            marks = ", ".join("?" for _ in chunk)
            out.update({r[0]: r[1:] for r in self.conn.execute(
                "SELECT id, path, name, duration, category, category_confidence, type, "
                f"type_confidence FROM samples WHERE id IN ({marks})", chunk)})
        return out

    def reviewed_fields(self, ids: Sequence[int] | None = None) -> dict[int, tuple[Any, ...]]:
        """id -> (type, category, category_confidence, category_source) of the samples
        `ids` (None: of every sample): what a review answer may change."""
        sql = "SELECT id, type, category, category_confidence, category_source FROM samples"
        if ids is None:
            return {r[0]: tuple(r[1:]) for r in self.conn.execute(sql)}
        out: dict[int, tuple[Any, ...]] = {}
        for chunk in _chunks(list(ids)):
            marks = ", ".join("?" for _ in chunk)
            out.update({r[0]: tuple(r[1:]) for r in self.conn.execute(
                f"{sql} WHERE id IN ({marks})", chunk)})
        return out

    def leased_to_others(self, reviewer: str | None, now: float) -> set[tuple[int, str]]:
        """(sample id, field) of the review questions leased to anyone but `reviewer`;
        expired leases go first. Call inside a transaction, with lease_questions after."""
        self.conn.execute("DELETE FROM review_leases WHERE expires < ?", (now,))
        return {(r[0], r[1]) for r in self.conn.execute(
            "SELECT sample_id, field FROM review_leases WHERE reviewer != ?", (reviewer or "",))}

    def lease_questions(self, reviewer: str, questions: Iterable[tuple[int, str]],
                        expires: float) -> None:
        """Lease (sample id, field) questions to `reviewer` until `expires` (epoch seconds)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO review_leases (sample_id, field, reviewer, expires) "
            "VALUES (?, ?, ?, ?)", [(i, f, reviewer, expires) for i, f in questions])

    def add_review_answer(self, sample_id: int, field: str, value: str, previous: str,
                          before: str, changed: int, reviewer: str | None) -> int:
        """Keep one review answer (values as JSON text) and end its lease; its id."""
        with self.transaction(bump=False):
            cursor = self.conn.execute(
                "INSERT INTO review_answers (sample_id, field, value, previous, before, "
                "changed, reviewer, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sample_id, field, value, previous, before, changed, reviewer, now_iso()))
            self.conn.execute("DELETE FROM review_leases WHERE sample_id = ? AND field = ?",
                              (sample_id, field))
        return int(cursor.lastrowid or 0)

    def review_answer(self, answer_id: int) -> tuple[Any, ...] | None:
        """(sample_id, field, value, previous, before, undone_at) of one review answer."""
        return self.conn.execute("SELECT sample_id, field, value, previous, before, undone_at "
                                 "FROM review_answers WHERE id = ?", (answer_id,)).fetchone()

    def mark_review_undone(self, answer_id: int) -> None:
        with self.transaction(bump=False):
            self.conn.execute("UPDATE review_answers SET undone_at = ? WHERE id = ?",
                              (now_iso(), answer_id))

    def review_answers(self) -> list[tuple[Any, ...]]:
        """(id, sample_id, field, value, changed, reviewer, answered_at, undone_at) of every
        review answer, newest first."""
        return self.query("SELECT id, sample_id, field, value, changed, reviewer, answered_at, "
                          "undone_at FROM review_answers ORDER BY id DESC")


class ChangeFeed:
    """The catalog's change feed: the one door into the library besides `Library` itself
    (ARCHITECTURE.md, "The two doors"), for readers that keep state derived from the catalog
    and follow changes made by any process (the server's live events, record cache and
    neighbour table). `Library.changes` hands it out. Each call reads in one snapshot."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def generation(self) -> int:
        """The catalog generation (bumped by every committed change, by any process)."""
        return self._catalog.generation

    def ids(self) -> tuple[int, set[int]]:
        """(generation, the id of every sample): where a follower starts, or resyncs."""
        catalog = self._catalog
        with catalog.snapshot():
            return catalog.generation, {row[0] for row in catalog.query("SELECT id FROM samples")}

    def since(self, since: int) -> tuple[int, list[int], list[int], set[int] | None]:
        """(generation, changed ids, removed ids, every id or None) after generation `since`;
        O(changes). Every id is listed only when removals after `since` may have been pruned
        (prune_removed, once the saved vector index applied them): the follower then finds
        removals by diffing ids instead."""
        catalog = self._catalog
        with catalog.snapshot():
            generation, changed, removed = catalog.changes_since(since)
            everyone = None
            if catalog.oldest_removal_kept() > since:
                everyone = {row[0] for row in catalog.query("SELECT id FROM samples")}
        return generation, changed, removed, everyone

    def data_version(self) -> int:
        """A number that moves whenever any connection (this process or another) commits:
        a look that costs a tenth of a microsecond while nothing has committed since the
        last look, a few (up to 30 on a busy loop) otherwise, before the dearer since()."""
        return self._catalog.data_version()

    def vectors_unchanged_since(self, since: int) -> int | None:
        """The generation now, when no vector was added, changed or removed after generation
        `since`; None when one was, or when removals after `since` were pruned (cannot tell)."""
        catalog = self._catalog
        with catalog.snapshot():
            generation = catalog.generation
            if since < catalog.oldest_removal_kept():
                return None
            changed, removed = catalog.vector_changes(since)
        return None if changed or removed else generation


# A page of a filter that starts with a list of values ("cat:snare,clap ..."): the WHERE
# clause's first term, "s.<column> IN (?, ...)", then " AND " or the end of its parentheses.
_LEADING_IN = re.compile(r"\((s\.[a-z_]+) IN \(\?((?:, \?)*)\)(?= AND |\))")
_ORDER_ITEM = re.compile(r"(?P<expr>.+?)(?P<tail>(?: COLLATE \w+)?(?: ASC| DESC)?(?: NULLS (?:FIRST|LAST))?)")
MAX_SPLIT_ROWS = 10_000  # deeper pages than this are read the one-statement way
# A filter that is one list of categories or types and nothing else ("cat:kick",
# "type:loop,oneshot"): its page walks m008's (category, path) or m018's (type, path, bpm),
# every entry a match, so Catalog.ids asks no plan of it (0.04 ms of EXPLAIN at 0.05 ms).
_ONE_LIST = re.compile(r"\((?:s\.category|s\.type) IN \(\?(?:, \?)*\)\)")
# A range on a sample column other than its path or id ("s.bpm >= ?"): the path's ranges
# are `under` folders, read from the path index; an id range reads by id.
_RANGE = re.compile(r"(?<![.\w+])(s\.(?!path\b|id\b)[a-z_]+) (>=|<=|<|>) \?")


# A listing sorted by one column, ties by path: the key (one expression, or the Camelot
# wheel's two) and its direction. NULLS LAST: as query.py writes every sort.
_ORDER_KEY = re.compile(r"(?P<expr>s\.[a-z_]+(?: COLLATE NOCASE)?) (?P<dir>ASC|DESC) NULLS LAST, s\.path")
_CAMELOT_ORDER = re.compile(r"CAST\(s\.camelot AS INTEGER\) (?P<dir>ASC|DESC) NULLS LAST, "
                            r"s\.camelot (?P=dir) NULLS LAST, s\.path")
_CAMELOT_KEY = "CAST(s.camelot AS INTEGER), s.camelot"
# Sort keys -> m020's index of (category, type, the key, path), in the key's order.
_ORDER_INDEXES = {
    "s.name COLLATE NOCASE": "samples_order_name", "s.bpm": "samples_order_bpm",
    "s.duration": "samples_order_duration", "s.loudness_lufs": "samples_order_loudness",
    "s.pitch_hz": "samples_order_pitch", "s.chord COLLATE NOCASE": "samples_order_chord",
    _CAMELOT_KEY: "samples_order_camelot",
}
# (the filter's one column, sort key, direction) -> m018's index in exactly that order, with
# the filter's one value first: 'type:loop sort:bpm-' reads its page straight from it.
_DIRECT_ORDERS = {("type", "s.bpm", "DESC"): "samples_type_fastest",
                  ("category", "s.loudness_lufs", "DESC"): "samples_category_loudest"}
MAX_STREAMS = 200  # (category, type) pairs a page merges at most (SQLite: 500 SELECTs in one)
# The (category, type) pairs that have samples, by seeks in m020's (category, type, path)
# (Catalog._pairs): each scalar subquery one seek (SEARCH ... (category=? AND type>?)); IS
# seeks a missing value as it does any other.
_PAIR_INDEX = "samples_category_type_path"


def _first(column: str, where: str) -> str:
    return (f"(SELECT s.{column} FROM samples s INDEXED BY {_PAIR_INDEX} WHERE {where} "
            f"ORDER BY s.{column} LIMIT 1)")


def _exists(where: str) -> str:
    return f"EXISTS (SELECT 1 FROM samples s INDEXED BY {_PAIR_INDEX} WHERE {where})"


# Every category that has samples, the missing one (NULL) first if any; at most `?` others.
_CATEGORY_WALK = (
    "WITH RECURSIVE walk(category) AS ("
    f"SELECT {_first('category', 's.category IS NOT NULL')} UNION ALL "
    f"SELECT {_first('category', 's.category > w.category')} FROM walk w "
    "WHERE w.category IS NOT NULL LIMIT ?) "
    f"SELECT NULL WHERE {_exists('s.category IS NULL')} "
    "UNION ALL SELECT category FROM walk WHERE category IS NOT NULL")
# Of the categories (a CTE), every (category, type) that has samples: each category's types
# one seek each (NULL ends a walk), and the missing type where it has samples.
_TYPE_WALK = (
    "pairs(category, type) AS ("
    f"SELECT c.category, {_first('type', 's.category IS c.category AND s.type IS NOT NULL')} "
    "FROM categories c UNION ALL "
    f"SELECT p.category, {_first('type', 's.category IS p.category AND s.type > p.type')} "
    "FROM pairs p WHERE p.type IS NOT NULL) "
    "SELECT category, type FROM pairs WHERE type IS NOT NULL UNION ALL "
    "SELECT c.category, NULL FROM categories c "
    f"WHERE {_exists('s.category IS c.category AND s.type IS NULL')}")
# Of the categories and types (CTEs), the pairs that have samples: one seek each.
_TYPE_PROBES = ("SELECT c.category, t.type FROM categories c, types t "
                f"WHERE {_exists('s.category IS c.category AND s.type = t.type')}")
# "has a value" for a sort key as a range SQLite starts its index walk with, past the NULLs at
# the front (IS NOT NULL is one only on a plain column): '' is the least text, and the
# Camelot number an integer.
_HAS_VALUE = {
    "s.name COLLATE NOCASE": "s.name COLLATE NOCASE >= ''",
    "s.chord COLLATE NOCASE": "s.chord COLLATE NOCASE >= ''",
    _CAMELOT_KEY: "CAST(s.camelot AS INTEGER) >= -9223372036854775808",
}
# Sort keys of a few values -> (column, its index of (column, path, ...) (m008, m018), the
# index to read a value's matches from when the filter names the other of type and category:
# m020's (category, type, path)).
_VALUE_WALKS = {
    "s.type COLLATE NOCASE": ("type", "samples_type_path_bpm", "samples_category_type_path"),
    "s.category COLLATE NOCASE": ("category", "idx_samples_category_path",
                                  "samples_category_type_path"),
}
MAX_WALKED_VALUES = 1000  # a column with more distinct values is read and sorted
_PATH_ORDERS = {"s.path ASC NULLS LAST": "s.path", "s.path DESC NULLS LAST": "s.path DESC"}
# A filter made of lists of types and categories only ("type:oneshot cat:kick,snare"), as
# query.py and Library._where write them: each list, and what is left when they go.
_LIST_TERM = re.compile(r"s\.(type|category) IN \(\?((?:, \?)*)\)")
_LIST_GLUE = re.compile(r"[() ]*(?:AND[() ]*)*")


def _list_filter(where: str, params: Sequence[Any]) -> dict[str, list[Any]] | None:
    """{column: the values it may take} of a WHERE clause made only of type and category
    lists joined by AND (a column listed twice keeps the values in both), or None."""
    if not where or not _LIST_GLUE.fullmatch(_LIST_TERM.sub(" ", where)):
        return None
    lists: dict[str, list[Any]] = {}
    at = 0
    for match in _LIST_TERM.finditer(where):
        count = 1 + match.group(2).count("?")
        values = list(dict.fromkeys(params[at:at + count]))
        at += count
        column = match.group(1)
        lists[column] = [v for v in lists[column] if v in values] if column in lists else values
    if at != len(params) or any(not isinstance(v, str) for vs in lists.values() for v in vs):
        return None
    return lists


def _ascii_lower(text: str) -> str:
    """Lower-case like SQLite's NOCASE: ASCII letters only."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _split_in(where: str, params: Sequence[Any], order_by: str, limit: int | None,
              offset: int) -> tuple[str, list[Any]] | None:
    """The ids query of a page whose filter starts with `s.column IN (a, b, ...)`, as one
    ordered page per value merged by one small sort: (SQL, parameters), or None to run it the
    one-statement way. SQLite cannot read an IN list in an order that is not the index's
    (category IN (snare, clap) ORDER BY loudness): it reads every match and sorts them (7 s
    at a million samples). Each `column = value` part reads its first offset + limit rows
    straight from an index ordered like the listing (m018's (category, loudness_lufs DESC, path)),
    whatever the planner's statistics; the outer ORDER BY is the listing's own, over at most
    (values x (offset + limit)) rows, and ends with the path, so the page is the same rows in
    the same order."""
    if limit is None or "random()" in order_by or offset + limit > MAX_SPLIT_ROWS:
        return None
    match = _LEADING_IN.match(where)
    if match is None:
        return None
    count = 1 + match.group(2).count("?")
    values = list(dict.fromkeys(params[:count]))  # the first placeholders are the IN's
    if len(values) < 2:
        return None
    items = [_ORDER_ITEM.fullmatch(item.strip()) for item in order_by.split(", ")]
    if any(item is None for item in items):
        return None
    keys = [(item.group("expr"), item.group("tail")) for item in items if item is not None]
    inner_where = where[:match.start()] + f"({match.group(1)} = ?" + where[match.end():]
    columns = ", ".join(f"{expr} AS k{i}" for i, (expr, _) in enumerate(keys))
    part = (f"SELECT * FROM (SELECT s.id, {columns} FROM samples s WHERE {inner_where} "
            f"ORDER BY {order_by} LIMIT ?)")
    outer = ", ".join(f"k{i}{tail}" for i, (_, tail) in enumerate(keys))
    sql = f"SELECT id FROM ({' UNION ALL '.join(part for _ in values)}) ORDER BY {outer} LIMIT ? OFFSET ?"
    rest = list(params[count:])
    bound: list[Any] = []
    for value in values:
        bound.extend([value, *rest, offset + limit])
    return sql, [*bound, limit, offset]


def _relative_folder(folder: str, root: str) -> str:
    """A folder as its root's name and the path below it ("Pack/Drums/Kicks")."""
    if root and (folder == root or folder.startswith(root.rstrip(os.sep) + os.sep)):
        below = os.path.relpath(folder, root)
        name = os.path.basename(root.rstrip(os.sep)) or root
        return name if below == "." else f"{name}/{below}"
    return folder


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """Ids in groups small enough for one statement's bound parameters."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
