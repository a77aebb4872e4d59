"""Opening a catalogued file for a client: checked when it is served, not only when scanned.

The catalog knows what a path was at scan time; what it points to now may differ (a symlink
swapped for /etc/passwd, a FIFO that would block a thread in open(), a file replaced since).
Every route that hands file bytes to a client (audio, zip exports) opens through here:

- opened with O_NONBLOCK, so a FIFO or device never blocks the opening thread;
- the opened descriptor (not the path: that could change again) must be a regular file whose
  size and mtime are the catalog's, else FileChanged (409, "rescan");
- its real path, links resolved, must lie under a scanned root (the sample's own root or
  one in the catalog's roots), else OutsideRoots (403). The message names the sample and
  its catalogued path, never where the link leads now (that goes to the log, at info).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import NotFound, SampleMindError

log = logging.getLogger("samplemind.served")


class FileChanged(SampleMindError):
    """A catalogued file is not what was scanned (size, mtime or kind differ)."""

    http_status = 409


class OutsideRoots(SampleMindError):
    """A catalogued path now resolves outside every scanned folder."""

    http_status = 403


@dataclass(frozen=True)
class CataloguedFile:
    """What the catalog recorded about one sample's file at scan time."""

    sample_id: int
    path: str
    root: str | None
    size: int | None
    mtime_ns: int | None


def real_roots(roots: Iterable[str]) -> list[str]:
    """Every scanned root (Library.roots()), links resolved: the folders served files must
    lie under."""
    return sorted({os.path.realpath(root) for root in roots})


def catalogued(rows: Iterable[Sequence[Any]]) -> dict[int, CataloguedFile]:
    """The scan-time facts of samples by id, from Library.scanned_files(ids) (an id not in
    the catalog has no row)."""
    return {row[0]: CataloguedFile(*row) for row in rows}


def _inside(path: str, folder: str) -> bool:
    if path == folder:
        return True
    return path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def open_catalogued(entry: CataloguedFile, roots: Sequence[str]) -> tuple[BinaryIO, os.stat_result]:
    """The file of a sample opened for reading, checked as the module docstring says.
    roots: real_roots(...); the sample's own root is allowed as well."""
    what = f"the file of sample {entry.sample_id} ({entry.path})"
    try:
        fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFound(f"{what} is gone from disk: scan its folder again") from None
    except OSError as exc:
        raise NotFound(f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileChanged(f"{what} is no longer a regular file: it changed since it was "
                              "scanned: rescan")
        if ((entry.size is not None and info.st_size != entry.size)
                or (entry.mtime_ns is not None and info.st_mtime_ns != entry.mtime_ns)):
            raise FileChanged(f"{what} changed since it was scanned: rescan")
        # The descriptor's own path (Linux), else the path resolved now: links count as
        # what they point to, and the descriptor cannot be swapped under us.
        real = _fd_path(fd) or os.path.realpath(entry.path)
        # The sample's own root is resolved only when no scanned root holds the file (it is
        # one of them, almost always): a realpath per request was a tenth of an audio answer.
        if not (any(_inside(real, root) for root in roots)
                or (entry.root and _inside(real, os.path.realpath(entry.root)))):
            # Where it leads is for the server's log only: a viewer must not learn the
            # layout of the disk by pointing at links.
            log.info("not serving sample %s: %s leads outside the scanned folders, to %s",
                     entry.sample_id, entry.path, real)
            raise OutsideRoots(f"{what} now leads outside the scanned folders: it is not "
                               "served; scan the folder it lives in")
        os.set_blocking(fd, True)  # a regular file: reads block on the disk only
        # Unbuffered: every read asks for a whole chunk (or the bytes a zip entry wants), so
        # a BufferedReader would only copy them once more.
        return os.fdopen(fd, "rb", buffering=0), info
    except BaseException:
        os.close(fd)
        raise


def _fd_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def checked_opener(files: Mapping[int, CataloguedFile], roots: Sequence[str],
                   ) -> Callable[[dict[str, Any]], BinaryIO]:
    """An export.Opener for records of these samples (files: catalogued(...), roots:
    real_roots(...)): each file opened through open_catalogued, as the server's audio opens
    it (Library.export and the server's zips use it)."""

    def opener(record: dict[str, Any]) -> BinaryIO:
        entry = files.get(record.get("id"))  # type: ignore[arg-type]
        if entry is None:
            raise NotFound("removed from the catalog since the export began")
        return open_catalogued(entry, roots)[0]

    return opener

