"""walcommits.py: a commit by any connection is seen by the readers that skip asking SQLite
while the WAL's shared memory is unchanged (Catalog.data_version, AccountStore.configured)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from samplemind import walcommits
from samplemind.accounts import AccountStore
from samplemind.catalog import Catalog


@pytest.fixture(params=["sealed", "unsealed"])
def seals(request, monkeypatch) -> str:
    """Each reader with a seal of its own (the process may have made its MAX_SEALS already),
    and without one (asking SQLite every time)."""
    monkeypatch.setattr(walcommits, "_seals", {})
    if request.param == "unsealed":
        monkeypatch.setattr(walcommits, "MAX_SEALS", 0)
    return request.param


def _wal_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    assert db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    db.execute("CREATE TABLE IF NOT EXISTS t (x)")
    return db


def test_the_seal_changes_with_every_commit_and_only_then(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(walcommits, "_seals", {})
    path = tmp_path / "a.db"
    db, other = _wal_db(path), _wal_db(path)
    seal = walcommits.open_seal(path)
    assert seal is not None
    assert walcommits.open_seal(path) is seal  # one per file (its descriptors stay open)
    before = seal.read()
    assert len(before) == walcommits.HEADER_BYTES
    db.execute("SELECT count(*) FROM t").fetchone()  # reads commit nothing
    assert seal.read() == before
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    other.execute("ROLLBACK")  # nor does a transaction rolled back
    assert seal.read() == before
    for value in range(50):
        previous = seal.read()
        other.execute("INSERT INTO t VALUES (?)", (value,))
        assert seal.read() != previous
    db.close()
    other.close()


def test_no_seal_without_a_wal(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (x)")
    assert walcommits.open_seal(path) is None
    assert walcommits.open_seal(tmp_path / "missing.db") is None
    db.close()


def test_catalog_data_version_sees_every_commit_of_another_connection(tmp_path: Path,
                                                                     seals: str) -> None:
    catalog = Catalog(tmp_path / "library.db")
    assert (catalog._seal is not None) == (seals == "sealed")
    other = sqlite3.connect(tmp_path / "library.db", isolation_level=None)
    try:
        version = catalog.data_version()
        assert catalog.data_version() == version  # nothing committed: the same number
        for value in range(30):
            other.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('walcommits', ?)",
                          (str(value),))
            moved = catalog.data_version()
            assert moved != version
            version = moved
        # A commit while this connection reads in a snapshot: the snapshot's answer is not
        # kept past its end.
        catalog.conn.execute("BEGIN")
        catalog.conn.execute("SELECT count(*) FROM meta").fetchone()
        inside = catalog.data_version()
        other.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('walcommits', 'x')")
        assert catalog.data_version() == inside  # the snapshot does not see it yet
        catalog.conn.execute("COMMIT")
        assert catalog.data_version() != inside
        # Its own commits do not move it (as SQLite's pragma: only other connections' do).
        version = catalog.data_version()
        catalog.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('own', '1')")
        assert catalog.data_version() == version
    finally:
        other.close()
        catalog.close()


def test_account_store_sees_accounts_added_by_another_process(tmp_path: Path,
                                                              seals: str) -> None:
    with AccountStore(tmp_path) as store:
        assert (store._seal is not None) == (seals == "sealed")
        assert store.configured() is False
        assert store.configured() is False
        script = ("import sys; from pathlib import Path; from samplemind.accounts import "
                  "AccountStore\nwith AccountStore(Path(sys.argv[1])) as s: s.add_token('ci', "
                  "'viewer')")
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=120)
        assert store.configured() is True
        with AccountStore(tmp_path) as other:
            other.remove_token("ci")
            assert store.configured() is False
            for round_ in range(20):
                other.add_token(f"t{round_}", "viewer")
                assert store.configured() is True
                other.remove_token(f"t{round_}")
                assert store.configured() is False


def test_a_symlinked_database_is_watched_where_sqlite_writes(tmp_path: Path, monkeypatch) -> None:
    """SQLite keeps the shared memory beside the link's target: a stale `-shm` beside the link
    (from before the data moved) must not be the one watched, or commits go unseen (found by
    review: an account added by another process left the server open)."""
    monkeypatch.setattr(walcommits, "_seals", {})
    real = tmp_path / "disk" / "a.db"
    real.parent.mkdir()
    link = tmp_path / "a.db"
    _wal_db(real).close()
    link.symlink_to(real)
    Path(f"{link}-shm").write_bytes(b"\0" * 32768)  # the stale file beside the link
    db, other = _wal_db(link), _wal_db(real)
    seal = walcommits.open_seal(link)
    assert seal is not None
    before = seal.read()
    other.execute("INSERT INTO t VALUES (1)")
    assert seal.read() != before
    db.close()
    other.close()


def test_a_file_that_is_no_live_wal_index_gets_no_seal(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(walcommits, "_seals", {})
    path = tmp_path / "lone.db"
    Path(f"{path}-shm").write_bytes(b"\0" * 32768)  # no SQLite has it open
    assert walcommits.open_seal(path) is None
