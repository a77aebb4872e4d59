"""Whether a SQLite database in WAL mode may have changed, told by a read of shared memory.

``PRAGMA data_version`` says whether another connection has committed, but each ask opens
and closes a read transaction (file-lock system calls, the module's statement machinery):
3-15 us, too dear for a question put on every server request. Every commit, by any
connection of any process, rewrites the wal-index header: the two 48-byte copies at the
start of the database's ``-shm`` file (``iChange``, ``mxFrame``, checksums and salts; the
format is documented at https://www.sqlite.org/walformat.html, "The WAL-Index Header").
`CommitSeal.read()` returns those 96 bytes from a read-only mapping of that file, about
0.1 us. When the bytes read are those read before an earlier look, no transaction has
committed since; when they differ, one may have (or one is being published right now), and
the caller asks SQLite.

The caller reads the seal before asking SQLite and keeps the pair: a commit landing
between the two makes the next read differ, so the answer kept is asked again, never
trusted past a change.

Valid only while a connection of this process keeps the database open in WAL mode: such a
connection holds a shared lock on the database file, so no other connection can delete the
``-shm`` file (the last connection to close deletes it), and the mapping stays the one
SQLite writes. Callers make one after opening their connection and check the journal mode.

The file descriptors stay open for the life of the process, on purpose: closing any
descriptor of a file drops every POSIX lock this process holds on it, SQLite's own included
(a dropped lock on the ``-shm`` file could let another process rebuild it under our readers).
So seals are shared per file, and at most MAX_SEALS are made (then `open_seal` answers None
and the caller asks SQLite every time).
"""

from __future__ import annotations

import mmap
import os
import sys
import threading

HEADER_BYTES = 96  # the two copies of the WalIndexHdr, 48 bytes each
MAX_SEALS = 16  # distinct -shm files mapped per process (tests open many databases)

_seals: dict[tuple[int, int], CommitSeal] = {}  # (st_dev, st_ino) of the -shm file -> seal
_lock = threading.Lock()


class CommitSeal:
    """A read-only view of the wal-index header of one database (see the module's doc)."""

    __slots__ = ("_fd", "_map")

    def __init__(self, fd: int, mapped: mmap.mmap) -> None:
        self._fd = fd  # never closed: see the module's doc
        self._map = mapped

    def read(self) -> bytes:
        """The wal-index header as it is now: equal bytes, no commit in between."""
        return self._map[:HEADER_BYTES]


def open_seal(database: str | os.PathLike[str]) -> CommitSeal | None:
    """The seal of a database this process has open in WAL mode, or None when there is no
    ``-shm`` file to read (another journal mode, not POSIX, too many seals already)."""
    if os.name != "posix":
        return None
    # SQLite follows a symlinked database to its target and keeps the shared memory beside
    # that; a file beside the link (left over from before a move) is never written.
    shm = os.path.realpath(os.fspath(database)) + "-shm"
    with _lock:
        try:
            info = os.stat(shm)
        except OSError:
            return None
        key = (info.st_dev, info.st_ino)
        seal = _seals.get(key)
        if seal is not None or len(_seals) >= MAX_SEALS or info.st_size < HEADER_BYTES:
            return seal
        try:
            fd = os.open(shm, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        # From here on the descriptor is never closed (module doc): kept in the seal, or in
        # _left_open when no seal is made of it (at most a few, for the process's life).
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != key:  # replaced since the stat: not ours
                _left_open.append(fd)
                return None
            mapped = mmap.mmap(fd, HEADER_BYTES, mmap.MAP_SHARED, mmap.PROT_READ)
        except (OSError, ValueError):
            _left_open.append(fd)
            return None
        if not _live_header(mapped[:HEADER_BYTES]):  # not a wal-index SQLite keeps: ask it
            mapped.close()
            _left_open.append(fd)
            return None
        seal = _seals[key] = CommitSeal(fd, mapped)
        return seal


_left_open: list[int] = []  # descriptors no seal uses, kept open (see the module's doc)

WAL_INDEX_VERSION = 3007000  # WalIndexHdr.iVersion of every SQLite since 3.7.0


def _live_header(header: bytes) -> bool:
    """The wal-index header of a database SQLite has open: both copies equal, the format's
    version, and isInit set (byte 12). Anything else (a stale or foreign file, a header
    being written) gets no seal."""
    first, second = header[:48], header[48:96]
    return (first == second and int.from_bytes(first[:4], sys.byteorder) == WAL_INDEX_VERSION
            and first[12] == 1)
