"""The account store (hashing, tokens, sessions) and the `user` / `token` commands."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from samplemind import accounts
from samplemind.accounts import (
    MIN_PASSWORD_LENGTH,
    SESSION_LIFETIME,
    SESSION_REFRESH,
    AccountStore,
    Conflict,
    parse_hash,
)
from samplemind.errors import NotFound, UsageError

from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    with AccountStore(tmp_path / "data") as opened:
        yield opened


def _dump(path: Path) -> bytes:
    """Every byte of the database, WAL included."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


# -- the server's spelling of an account (fav --account) ---------------------------------------


def test_served_spelling_names_the_account_as_the_server_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert accounts.served_spelling(data, "alice", check_configured=True) == (None, False)
    with AccountStore(data) as store:  # no users or tokens yet: nothing to warn about
        assert accounts.served_spelling(data, "alice", check_configured=True) == (None, False)
        store.add_token("Alice", "viewer")
    assert accounts.served_spelling(data, "ALICE") == ("Alice", False)
    assert accounts.served_spelling(data, "alcie") == (None, False)
    assert accounts.served_spelling(data, "alcie", check_configured=True) == (None, True)
    accounts.accounts_path(data).write_bytes(b"not a database")  # the name is used as given
    assert accounts.served_spelling(data, "alice", check_configured=True) == (None, False)


# -- passwords ---------------------------------------------------------------------------------


def test_password_hash_records_its_parameters(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD, "editor")
    with sqlite3.connect(store.path) as db:
        (encoded,) = db.execute("SELECT password_hash FROM users").fetchone()
    parts = parse_hash(encoded)
    assert encoded.startswith("scrypt$n=32768,r=8,p=1$")
    assert (parts["n"], parts["r"], parts["p"]) == (2**15, 8, 1)
    assert parts["n"] * parts["r"] * 128 >= 32 * 2**20  # memory-hard: 32 MiB per guess
    assert len(parts["salt"]) == 16 and len(parts["digest"]) == 32
    assert PASSWORD.encode() not in _dump(store.path)


def test_same_password_gets_different_salts(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD, "viewer")
    store.add_user("bob", PASSWORD, "viewer")
    with sqlite3.connect(store.path) as db:
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users")]
    assert hashes[0] != hashes[1]


def test_verify_right_wrong_and_unknown(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD, "editor")
    assert store.verify_password("alice", PASSWORD) == {"name": "alice", "role": "editor"}
    assert store.verify_password("ALICE", PASSWORD) == {"name": "alice", "role": "editor"}
    assert store.verify_password("alice", PASSWORD + "x") is None
    assert store.verify_password("alice", "") is None
    assert store.verify_password("mallory", PASSWORD) is None
    assert store.verify_password("alice", "x" * 100_000) is None


def test_unknown_user_costs_a_real_hash(store: AccountStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown name runs scrypt against a dummy hash with the same parameters, so the answer's
    timing does not tell which names exist."""
    store.add_user("alice", PASSWORD, "viewer")
    calls: list[tuple[int, int, int]] = []
    real = accounts.hashlib.scrypt

    def counting(password, *, salt, n, r, p, maxmem, dklen):
        calls.append((n, r, p))
        return real(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)

    monkeypatch.setattr(accounts.hashlib, "scrypt", counting)
    assert store.verify_password("nobody", PASSWORD) is None
    assert store.verify_password("alice", "wrong password!") is None
    assert calls == [(2**15, 8, 1), (2**15, 8, 1)]

    def timed(name: str) -> float:
        start = time.perf_counter()
        store.verify_password(name, "wrong password!")
        return time.perf_counter() - start

    known = min(timed("alice") for _ in range(3))
    unknown = min(timed("nobody") for _ in range(3))
    assert unknown > 0.5 * known  # same order: a hash either way, not an early return


def test_weak_hash_is_upgraded_on_login(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD, "viewer")
    weak = accounts.hash_password(PASSWORD, n=2**10, r=8, p=1)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE users SET password_hash = ?", (weak,))
    assert store.verify_password("alice", PASSWORD)
    with sqlite3.connect(store.path) as db:
        (encoded,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert parse_hash(encoded)["n"] == accounts.SCRYPT_N
    assert store.verify_password("alice", PASSWORD)


def test_password_rules(store: AccountStore) -> None:
    with pytest.raises(UsageError, match="too short"):
        store.add_user("alice", "x" * (MIN_PASSWORD_LENGTH - 1), "viewer")
    with pytest.raises(UsageError, match="account name"):
        store.add_user("alicealice", "AliceAlice", "viewer")
    with pytest.raises(UsageError, match="unknown role"):
        store.add_user("alice", PASSWORD, "root")
    with pytest.raises(UsageError, match="bad user name"):
        store.add_user("al ice", PASSWORD, "viewer")
    store.add_user("alice", "x" * MIN_PASSWORD_LENGTH, "viewer")
    with pytest.raises(Conflict):
        store.add_user("Alice", PASSWORD, "viewer")


def test_manage_users(store: AccountStore) -> None:
    assert not store.configured()
    store.add_user("alice", PASSWORD, "viewer")
    assert store.configured()
    store.set_role("alice", "admin")
    store.set_password("alice", "another long password")
    assert store.verify_password("alice", PASSWORD) is None
    assert store.verify_password("alice", "another long password")["role"] == "admin"
    users = store.users()
    assert [sorted(user) for user in users] == [["created_at", "name", "role"]]
    assert users[0]["name"] == "alice" and users[0]["role"] == "admin"
    for change in (lambda: store.set_role("bob", "viewer"),
                   lambda: store.set_password("bob", PASSWORD),
                   lambda: store.remove_user("bob")):
        with pytest.raises(NotFound):
            change()
    store.remove_user("alice")
    assert store.users() == [] and not store.configured()


# -- tokens ------------------------------------------------------------------------------------


def test_token_secret_is_shown_once_and_only_its_hash_stored(store: AccountStore) -> None:
    secret = store.add_token("ci", "editor")
    assert secret.startswith("smt_") and len(secret) >= 40
    assert store.configured()
    assert store.verify_token(secret) == {"name": "ci", "role": "editor"}
    assert store.verify_token(secret + "x") is None
    assert store.verify_token("") is None
    listed = store.tokens()
    assert [token["name"] for token in listed] == ["ci"]
    assert secret not in json.dumps(listed)
    store.close()
    raw = _dump(store.path)
    assert secret.encode() not in raw
    assert secret[len("smt_"):].encode() not in raw
    with sqlite3.connect(store.path) as db:
        (stored,) = db.execute("SELECT secret_sha256 FROM tokens").fetchone()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


def test_tokens_are_unique_and_revocable(store: AccountStore) -> None:
    first = store.add_token("ci", "viewer")
    second = store.add_token("deploy", "admin")
    assert first != second
    with pytest.raises(Conflict):
        store.add_token("CI", "viewer")
    store.remove_token("ci")
    assert store.verify_token(first) is None
    assert store.verify_token(second)["role"] == "admin"
    with pytest.raises(NotFound):
        store.remove_token("ci")


def test_token_records_last_use(tmp_path: Path) -> None:
    clock = Clock()
    with AccountStore(tmp_path, clock=clock) as store:
        secret = store.add_token("ci", "viewer")
        assert store.tokens()[0]["last_used_at"] is None
        store.verify_token(secret)
        assert store.tokens()[0]["last_used_at"] == clock.now


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_are_hashed_and_expire(tmp_path: Path) -> None:
    clock = Clock()
    with AccountStore(tmp_path, clock=clock) as store:
        store.add_user("alice", PASSWORD, "editor")
        session_id, csrf = store.create_session("alice")
        assert session_id != csrf and len(session_id) >= 40
        found = store.session(session_id)
        assert found["user"] == "alice" and found["role"] == "editor"
        assert found["csrf_token"] == csrf
        assert store.session(session_id + "x") is None
        raw = _dump(store.path)
        assert session_id.encode() not in raw and csrf.encode() not in raw

        clock.now += SESSION_LIFETIME - 1
        assert store.session(session_id) is not None  # used just in time: slides forward
        clock.now += SESSION_LIFETIME - 1
        assert store.session(session_id) is not None
        clock.now += SESSION_LIFETIME + 1  # idle too long
        assert store.session(session_id) is None


def test_session_slides_at_most_hourly(tmp_path: Path) -> None:
    clock = Clock()
    with AccountStore(tmp_path, clock=clock) as store:
        store.add_user("alice", PASSWORD, "viewer")
        session_id, _ = store.create_session("alice")
        first = store.session(session_id)
        assert not first["refreshed"]
        clock.now += SESSION_REFRESH + 1
        later = store.session(session_id)
        assert later["refreshed"] and later["expires_at"] == clock.now + SESSION_LIFETIME


def test_sessions_follow_the_account(store: AccountStore) -> None:
    store.add_user("alice", PASSWORD, "viewer")
    one, _ = store.create_session("alice")
    two, _ = store.create_session("Alice")
    assert store.session(two)["user"] == "alice"
    store.set_role("alice", "admin")
    assert store.session(one)["role"] == "admin"
    store.end_session(one)
    assert store.session(one) is None and store.session(two) is not None
    store.set_password("alice", "a brand new password")
    assert store.session(two) is None  # a new password ends every session
    three, _ = store.create_session("alice")
    store.remove_user("alice")
    assert store.session(three) is None
    with pytest.raises(NotFound):
        store.create_session("alice")


def test_store_is_private_and_shared_between_connections(tmp_path: Path) -> None:
    with AccountStore(tmp_path) as first, AccountStore(tmp_path) as second:
        first.add_user("alice", PASSWORD, "viewer")
        assert second.verify_password("alice", PASSWORD)
        with sqlite3.connect(first.path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "accounts.db").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "library.db").exists()  # separate from the catalog


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_user_commands(samplemind_home: Path) -> None:
    added = run_cli("user", "add", "alice", "--role", "admin", "--password-stdin",
                    home=samplemind_home, input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "" and "alice" in added.stderr

    short = run_cli("user", "add", "bob", "--password-stdin", home=samplemind_home,
                    input="short\n")
    assert short.returncode == 2 and "too short" in short.stderr

    no_tty = run_cli("user", "add", "bob", home=samplemind_home, input="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr

    role = run_cli("user", "role", "alice", "editor", home=samplemind_home)
    assert role.returncode == 0 and "no admin" in role.stderr

    passwd = run_cli("user", "passwd", "alice", "--password-stdin", home=samplemind_home,
                     input="a new long password\n")
    assert passwd.returncode == 0, passwd.stderr

    listed = run_cli("user", "ls", "--format", "json", home=samplemind_home)
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert [(user["name"], user["role"]) for user in users] == [("alice", "editor")]
    assert "hash" not in listed.stdout and "scrypt" not in listed.stdout

    with AccountStore(samplemind_home) as store:
        assert store.verify_password("alice", "a new long password")
        assert store.verify_password("alice", PASSWORD) is None

    removed = run_cli("user", "rm", "alice", home=samplemind_home)
    missing = run_cli("user", "rm", "alice", home=samplemind_home)
    assert removed.returncode == 0 and missing.returncode == 1
    assert "no user 'alice'" in missing.stderr


def test_cli_token_commands(samplemind_home: Path) -> None:
    added = run_cli("token", "add", "ci", "--role", "editor", home=samplemind_home)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip()
    assert secret.startswith("smt_") and "\n" not in secret
    assert "only its hash" in added.stderr

    listed = run_cli("token", "ls", "--format", "jsonl", home=samplemind_home)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(row["name"], row["role"]) for row in rows] == [("ci", "editor")]
    assert secret not in listed.stdout
    assert secret.encode() not in _dump(samplemind_home / "accounts.db")

    with AccountStore(samplemind_home) as store:
        assert store.verify_token(secret) == {"name": "ci", "role": "editor"}

    removed = run_cli("token", "rm", "ci", home=samplemind_home)
    assert removed.returncode == 0, removed.stderr
    with AccountStore(samplemind_home) as store:
        assert store.verify_token(secret) is None and not store.configured()
