"""Accounts, API tokens and login sessions for `samplemind serve`: storage and crypto only.

Everything lives in `<data dir>/accounts.db` (SQLite, WAL, busy timeout), apart from the catalog so
that deleting or sharing a library never touches credentials. Nothing secret is stored in the clear:

- passwords: scrypt (memory-hard; n=2**15, r=8, p=1: 32 MiB and ~90 ms on a quiet core here)
  with a random 16-byte salt, stored as ``scrypt$n=…,r=…,p=…$salt$hash`` so the cost can be
  raised later; a hash made with older parameters is upgraded when its password is next verified.
- API tokens: 32 random bytes (URL-safe base64, prefixed ``smt_``), stored as SHA-256. A token is
  high-entropy, so a fast hash is enough; the secret is returned once by `add_token`.
- sessions: 32 random bytes, stored as SHA-256, 14 days sliding. The CSRF token of a session is an
  HMAC of its id, so it is never stored and can be given back to the page that holds the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from .closing import Closing
from .errors import ExitCode, NotFound, SampleMindError, UsageError
from .walcommits import open_seal

ROLES = ("viewer", "editor", "admin")  # each role may do everything the ones before it may
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # scrypt pre-hashes long input, but nobody needs a novel
SESSION_LIFETIME = 14 * 24 * 3600.0  # seconds of inactivity after which a session ends
SESSION_REFRESH = 3600.0  # a session's expiry moves forward at most this often (one write an hour)
TOKEN_PREFIX = "smt_"
_TOKEN_TOUCH = 60.0  # last_used_at of a token is written at most once a minute

# scrypt cost: memory = 128 * n * r bytes (32 MiB). Measured on this kind of machine: n=2**14
# 36 ms, n=2**15 92 ms, n=2**16 194 ms (one quiet core). OWASP's floor is n=2**17 (128 MiB, ~400-750
# ms), which would make login itself a denial-of-service lever on a small server, so n=2**15; the
# parameters are stored with every hash and weaker hashes are upgraded at the next login.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16
_SCRYPT_MAXMEM = 1024 * 1024 * 1024  # OpenSSL's default cap (32 MiB) is too low to raise n later

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_SCHEMA_VERSION = 1


class Conflict(SampleMindError):
    """The account or token already exists."""

    exit_code = ExitCode.ERROR
    http_status = 409


def accounts_path(data_dir: Path) -> Path:
    """Where the accounts database of a data folder lives."""
    return Path(data_dir) / "accounts.db"


def check_role(role: str) -> str:
    """The role, lower-cased, if it is one of ROLES."""
    value = (role or "").strip().lower()
    if value not in ROLES:
        raise UsageError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return value


def role_allows(role: str, required: str) -> bool:
    """True when `role` is at least `required` (viewer < editor < admin)."""
    return role in ROLES and required in ROLES and ROLES.index(role) >= ROLES.index(required)


def check_password(password: str, name: str | None = None) -> None:
    """Raise UsageError for a password that is too short, too long or the account's own name."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UsageError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    if name is not None and password.strip().lower() == name.lower():
        raise UsageError("the password must not be the account name")


def check_name(name: str, what: str = "user") -> str:
    """The name, if it is a valid account or token name; else UsageError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(f"bad {what} name {name!r}: 1-64 letters, digits, '.', '_', '-' or '@', "
                         "starting with a letter or digit")
    return name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P,
                  salt: bytes | None = None) -> str:
    """An encoded scrypt hash: ``scrypt$n=32768,r=8,p=1$<salt>$<hash>`` (base64url, no padding)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                            maxmem=_SCRYPT_MAXMEM, dklen=SCRYPT_DKLEN)
    return f"scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> dict[str, Any]:
    """The parts of an encoded hash: algorithm, n, r, p, salt, digest."""
    algorithm, params, salt, digest = encoded.split("$")
    values = dict(item.split("=", 1) for item in params.split(","))
    return {"algorithm": algorithm, "n": int(values["n"]), "r": int(values["r"]),
            "p": int(values["p"]), "salt": _unb64(salt), "digest": _unb64(digest)}


def verify_hash(password: str, encoded: str) -> bool:
    """Whether the password matches an encoded hash (compared in constant time)."""
    try:
        parts = parse_hash(encoded)
    except (ValueError, KeyError):
        return False
    if parts["algorithm"] != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode("utf-8"), salt=parts["salt"], n=parts["n"],
                            r=parts["r"], p=parts["p"], maxmem=_SCRYPT_MAXMEM,
                            dklen=len(parts["digest"]))
    return hmac.compare_digest(digest, parts["digest"])


def needs_rehash(encoded: str) -> bool:
    """True when a hash was made with weaker parameters than the current ones."""
    try:
        parts = parse_hash(encoded)
    except (ValueError, KeyError):
        return True
    return (parts["algorithm"] != "scrypt" or parts["n"] < SCRYPT_N or parts["r"] < SCRYPT_R
            or parts["p"] < SCRYPT_P)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    password_changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL COLLATE NOCASE REFERENCES users(name) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_at);
"""


class AccountStore(Closing):
    """Users, API tokens and sessions in `<data dir>/accounts.db`.

    Safe to share between threads (one connection behind a lock) and between processes (SQLite WAL
    with a busy timeout), so `samplemind user add` works while a server runs.
    """

    def __init__(self, data_dir: Path, *, clock=time.time):
        self.path = accounts_path(data_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():  # the hashes are nobody else's business: owner-only file
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._clock = clock
        self._lock = threading.RLock()
        self._writes = 0  # writes through this connection (data_version only counts other ones)
        self._configured: tuple[tuple[int, int], bool] | None = None  # (change key, answer)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA foreign_keys = ON")
        wal = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        with self._lock, self._db:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise SampleMindError(f"{self.path} was written by a newer samplemind "
                                      f"(schema {version}); upgrade samplemind")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        # configured(): whether anything committed since the last answer, told by a read of
        # the WAL's shared memory instead of a read transaction (walcommits.py).
        self._seal = open_seal(self.path) if wal else None
        self._sealed_answer: tuple[bytes, bool] | None = None  # (seal read before, answer)
        # Verifying an unknown name costs one scrypt against this, as a real user's would.
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._seal = None  # its mapping may outlive the WAL's files once closed
            self._db.close()

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple = ()) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                count = self._db.execute(sql, args).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._writes += 1
            return count

    # -- users ------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str) -> None:
        """Create a user; raises Conflict if the name is taken (names ignore case)."""
        check_name(name, "user")
        role = check_role(role)
        check_password(password, name)
        encoded = hash_password(password)
        now = self._clock()
        try:
            self._write("INSERT INTO users (name, role, password_hash, created_at, "
                        "password_changed_at) VALUES (?, ?, ?, ?, ?)",
                        (name, role, encoded, now, now))
        except sqlite3.IntegrityError:
            raise Conflict(f"user {name!r} already exists") from None

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password; every session of that user ends."""
        check_password(password, name)
        encoded = hash_password(password)
        with self._lock:
            if not self._write("UPDATE users SET password_hash = ?, password_changed_at = ? "
                               "WHERE name = ?", (encoded, self._clock(), name)):
                raise NotFound(f"no user {name!r}")
            self._write("DELETE FROM sessions WHERE user = ?", (name,))

    def set_role(self, name: str, role: str) -> None:
        """Change a user's role (open sessions get the new role on their next request)."""
        role = check_role(role)
        if not self._write("UPDATE users SET role = ? WHERE name = ?", (role, name)):
            raise NotFound(f"no user {name!r}")

    def remove_user(self, name: str) -> None:
        """Delete a user and end their sessions."""
        with self._lock:
            self._write("DELETE FROM sessions WHERE user = ?", (name,))
            if not self._write("DELETE FROM users WHERE name = ?", (name,)):
                raise NotFound(f"no user {name!r}")

    def users(self) -> list[dict[str, Any]]:
        """Every user: name, role, created_at (never a hash)."""
        return [{"name": row["name"], "role": row["role"], "created_at": row["created_at"]}
                for row in self._query("SELECT name, role, created_at FROM users ORDER BY name")]

    def verify_password(self, name: str, password: str) -> dict[str, Any] | None:
        """{name, role} when the password is right, else None.

        Takes the same time whether or not the user exists: an unknown name is checked against a
        dummy hash with the same parameters. A hash made with older parameters is upgraded.
        """
        if not isinstance(name, str) or not isinstance(password, str):
            return None
        if len(password) > MAX_PASSWORD_LENGTH:
            password = password[:MAX_PASSWORD_LENGTH + 1]  # still hashed: same cost, never a match
        rows = self._query("SELECT name, role, password_hash FROM users WHERE name = ?", (name,))
        row = rows[0] if rows else None
        ok = verify_hash(password, row["password_hash"] if row else self._dummy_hash)
        if not (row and ok) or len(password) > MAX_PASSWORD_LENGTH:
            return None
        if needs_rehash(row["password_hash"]):
            self._write("UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                        (hash_password(password), row["name"], row["password_hash"]))
        return {"name": row["name"], "role": row["role"]}

    # -- API tokens -------------------------------------------------------------------------

    def add_token(self, name: str, role: str) -> str:
        """Create an API token and return its secret; only its SHA-256 is kept."""
        check_name(name, "token")
        role = check_role(role)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            self._write("INSERT INTO tokens (name, role, secret_sha256, created_at) "
                        "VALUES (?, ?, ?, ?)", (name, role, _sha256(secret), self._clock()))
        except sqlite3.IntegrityError:
            raise Conflict(f"token {name!r} already exists") from None
        return secret

    def tokens(self) -> list[dict[str, Any]]:
        """Every token: name, role, created_at, last_used_at (never the secret or its hash)."""
        return [dict(row) for row in self._query(
            "SELECT name, role, created_at, last_used_at FROM tokens ORDER BY name")]

    def account_name(self, name: str) -> str | None:
        """How the server spells the account a request of user or token ``name`` (any case)
        runs as, the name its favourites are kept under; None when there is none."""
        rows = self._query("SELECT name FROM users WHERE name = ? UNION ALL "
                           "SELECT name FROM tokens WHERE name = ?", (name, name))
        return rows[0]["name"] if rows else None

    def remove_token(self, name: str) -> None:
        """Revoke a token."""
        if not self._write("DELETE FROM tokens WHERE name = ?", (name,)):
            raise NotFound(f"no token {name!r}")

    def verify_token(self, secret: str) -> dict[str, Any] | None:
        """{name, role} of the token with this secret, else None."""
        if not isinstance(secret, str) or not secret or len(secret) > 256:
            return None
        digest = _sha256(secret)
        rows = self._query("SELECT name, role, secret_sha256, last_used_at FROM tokens "
                           "WHERE secret_sha256 = ?", (digest,))
        if not rows or not hmac.compare_digest(rows[0]["secret_sha256"], digest):
            return None
        row, now = rows[0], self._clock()
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOKEN_TOUCH:
            self._write("UPDATE tokens SET last_used_at = ? WHERE name = ?", (now, row["name"]))
        return {"name": row["name"], "role": row["role"]}

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, user: str) -> tuple[str, str]:
        """A new session for a user: (session id for the cookie, CSRF token for the page)."""
        rows = self._query("SELECT name FROM users WHERE name = ?", (user,))
        if not rows:
            raise NotFound(f"no user {user!r}")
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        self._prune()
        self._write("INSERT INTO sessions (id_sha256, user, created_at, last_seen_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (_sha256(session_id), rows[0]["name"], now, now, now + SESSION_LIFETIME))
        return session_id, self.csrf_token(session_id)

    @staticmethod
    def csrf_token(session_id: str) -> str:
        """The CSRF token that belongs to a session id (an HMAC of it; never stored)."""
        mac = hmac.new(session_id.encode("utf-8"), b"samplemind csrf v1", hashlib.sha256)
        return _b64(mac.digest())

    def session(self, session_id: str) -> dict[str, Any] | None:
        """The live session with this id, else None; using it moves its expiry forward.

        Returns {user, role, csrf_token, created_at, expires_at, refreshed}; `refreshed` is True
        when the expiry moved, so the cookie can be sent again with a new Max-Age.
        """
        if not isinstance(session_id, str) or not session_id or len(session_id) > 256:
            return None
        digest = _sha256(session_id)
        rows = self._query("SELECT u.name AS user, s.created_at, s.last_seen_at, s.expires_at, u.role "
                           "FROM sessions s JOIN users u ON u.name = s.user "
                           "WHERE s.id_sha256 = ?", (digest,))
        if not rows:
            return None
        row, now = rows[0], self._clock()
        if row["expires_at"] <= now:
            self._write("DELETE FROM sessions WHERE id_sha256 = ?", (digest,))
            return None
        expires_at, refreshed = row["expires_at"], False
        if now - row["last_seen_at"] >= SESSION_REFRESH:
            expires_at, refreshed = now + SESSION_LIFETIME, True
            self._write("UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id_sha256 = ?",
                        (now, expires_at, digest))
        return {"user": row["user"], "role": row["role"], "csrf_token": self.csrf_token(session_id),
                "created_at": row["created_at"], "expires_at": expires_at, "refreshed": refreshed}

    def end_session(self, session_id: str) -> None:
        """End a session (logging out); an unknown id is ignored."""
        if isinstance(session_id, str) and session_id:
            self._write("DELETE FROM sessions WHERE id_sha256 = ?", (_sha256(session_id),))

    def end_sessions(self, user: str) -> int:
        """End every session of a user; returns how many there were."""
        return self._write("DELETE FROM sessions WHERE user = ?", (user,))

    def _prune(self) -> None:
        self._write("DELETE FROM sessions WHERE expires_at <= ?", (self._clock(),))

    # -- state ------------------------------------------------------------------------------

    def configured(self) -> bool:
        """True when any user or token exists (then the server requires a login).

        Asked on every server request, so that an account added by `samplemind user add` in
        another process closes open access at once. The answer is kept until the database
        changes: SQLite's data_version moves when another connection commits, and our own
        writes are counted, so an unchanged store costs one pragma, not a table read; and
        while the WAL's shared memory shows no commit since the last answer (walcommits.py),
        not even the pragma.
        """
        seal, sealed = self._seal, self._sealed_answer
        if seal is not None and sealed is not None and seal.read() == sealed[0]:
            return sealed[1]  # nothing committed since that answer: 0.1 us instead of 3-15
        with self._lock:
            # The seal is read before SQLite is asked: a commit in between makes the next
            # read differ, so this answer is not trusted past it.
            before = seal.read() if seal is not None else None
            key = (self._db.execute("PRAGMA data_version").fetchone()[0], self._writes)
            if self._configured is None or self._configured[0] != key:
                row = self._db.execute("SELECT EXISTS (SELECT 1 FROM users) OR "
                                       "EXISTS (SELECT 1 FROM tokens)").fetchone()
                self._configured = (key, bool(row[0]))
            answer = self._configured[1]
            if before is not None and not self._db.in_transaction:
                self._sealed_answer = (before, answer)
            return answer


def served_spelling(data_dir: Path, name: str, *,
                    check_configured: bool = False) -> tuple[str | None, bool]:
    """(how the server spells the account `name` runs as, None when there is none; with
    check_configured, True when it has none while the server has users or tokens, so a typo
    is worth a warning). Names are case-blind at login, `user add` and fav:NAME, but the web
    UI lists the stars kept under the server's own spelling. No accounts database, or one that
    cannot be read: (None, False), the name is used as given (favourites are the catalog's)."""
    if not accounts_path(data_dir).exists():
        return None, False
    try:
        with AccountStore(data_dir) as store:
            known = store.account_name(name)
            return known, bool(check_configured and known is None and store.configured())
    except (sqlite3.Error, SampleMindError):
        return None, False
