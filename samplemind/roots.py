"""Scanned roots are stored resolved: one folder is one root, whatever path named it.

A symlinked folder, `/proc/self/root/...` or `dir/../dir` all name the same files; scanning
each of them as typed would catalogue every file once per spelling. So a root is resolved
(os.path.realpath) before it is scanned or stored, and catalogs written before that, whose
roots may be aliases, are brought in line at the start of each scan: the alias root's rows
move to the resolved path, and a row that duplicates one already there is merged into it
(its tags and corrections kept) and removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog


def user_path(path: str | os.PathLike[str]) -> str:
    """A path a person typed (or a request named), made absolute, for a catalog lookup or a
    root. The catalog stores paths as text, so one holding bytes that are not UTF-8 can name
    nothing in it: a UsageError naming the path, its bad bytes escaped."""
    from .errors import UsageError
    from .textsafe import has_undecodable, printable

    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise UsageError(f"not a path: {printable(text)} (it holds a NUL byte)")
    if has_undecodable(text):
        raise UsageError(f"cannot use {printable(text)}: the path is not valid UTF-8 and the "
                         "catalog stores paths as text (rename the file or folder)")
    return os.path.abspath(os.path.expanduser(text))


# Pseudo file systems (reading them can block or never end) and the whole disk: never roots.
_NEVER_ROOTS = ("/proc", "/sys", "/dev")
# System folders: not where samples are kept, and a root widens what the server may scan and
# serve. Only these folders themselves are refused (/usr/share/sounds is a fine root).
_SYSTEM_FOLDERS = frozenset({"/", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/usr",
                             "/boot", "/run", "/var", "/root", "/srv", "/opt", "/snap"})


def check_root(root: str) -> str:
    """A resolved path a scan may take as a root, or a UsageError saying why not (NotFound if
    it does not exist): a folder, or a file with an audio extension (as the walk decides);
    never /, a system folder itself, or anything under /proc, /sys or /dev."""
    import stat

    from .errors import NotFound, UsageError
    from .scanner import AUDIO_EXTENSIONS
    from .textsafe import printable

    shown = printable(root)
    try:
        info = os.stat(root)
    except FileNotFoundError:
        raise NotFound(f"no such file or folder: {shown} (check the path; scan takes folders "
                       "and audio files)") from None
    except OSError as exc:
        raise UsageError(f"cannot scan {shown}: {exc.strerror or exc}") from None
    system = root if root in _SYSTEM_FOLDERS else next(
        (top for top in _NEVER_ROOTS if _under(root, top)), None)
    if system is not None:
        where = "it" if system == root else f"it is under {system}, which"
        raise UsageError(f"will not scan {shown}: {where} is a system folder, not a sample "
                         "folder (scan the folder that holds your samples)")
    if stat.S_ISDIR(info.st_mode):
        return root
    if stat.S_ISREG(info.st_mode) and os.path.splitext(root)[1].lower() in AUDIO_EXTENSIONS:
        return root
    what = "a file without an audio extension" if stat.S_ISREG(info.st_mode) else \
        "neither a folder nor a regular file"
    raise UsageError(f"cannot scan {shown}: it is {what} (scan a folder or an audio file)")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def reached_from(real: str, is_folder: bool, roots: Iterable[str]) -> bool:
    """Whether walking one of these (resolved) roots reaches `real` (a resolved path) under
    that very path: it lies inside a folder root, through no hidden folder or file, and a
    file has an audio name; or it is a file root itself."""
    from .scanner import is_audio_name

    for root in roots:
        if real == root:
            return True
        if not real.startswith(root.rstrip("/") + "/"):
            continue
        parts = real[len(root.rstrip("/")) + 1:].split("/")
        if any(part.startswith(".") for part in parts):
            continue
        if is_folder or is_audio_name(parts[-1]):
            return True
    return False


def merge_sample(catalog: Catalog, keep: int, duplicate: int) -> None:
    """One file catalogued twice: what a person wrote on the duplicate (user tags,
    corrections) is copied onto the row that stays, whose fields then take the corrections;
    the caller removes the duplicate."""
    from .scan import re_resolve

    conn = catalog.conn
    for table, columns in (("tags", "tag, source"), ("overrides", "field, value, set_at")):
        conn.execute(f"INSERT OR IGNORE INTO {table} (sample_id, {columns}) "
                     f"SELECT ?, {columns} FROM {table} WHERE sample_id = ?", (keep, duplicate))
    re_resolve(catalog, keep)


def resolve_root(path: str | os.PathLike[str]) -> str:
    """The one absolute, link-free spelling of a folder or file to scan."""
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def resolve_roots(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Resolved roots in the order given, each once."""
    return list(dict.fromkeys(resolve_root(path) for path in paths))


def _moved(path: str, old: str, new: str) -> str:
    return new + path[len(old):]


def adopt_alias_roots(catalog: Catalog) -> int:
    """Rewrite stored roots that are not resolved (and their samples and failures) to their
    resolved path; returns how many duplicate samples were merged away. A root that does
    not exist now is left as it is: its resolution would be a guess."""
    aliases = []
    for (stored,) in catalog.query("SELECT path FROM roots"):
        real = os.path.realpath(stored)
        if real != stored and os.path.exists(real):
            aliases.append((stored, real))
    merged = 0
    for old, new in aliases:
        with catalog.transaction():
            merged += _rename_root(catalog, old, new)
    return merged


def forget_refused_roots(catalog: Catalog) -> list[str]:
    """Stored roots that check_root refuses now (/dev/null, a text file, a FIFO, /etc: what
    older versions stored) and that hold no sample are forgotten, so they no longer widen
    what the server may scan or serve; returns them. A root that does not exist now is kept
    (an unmounted drive comes back)."""
    from .errors import NotFound, UsageError

    refused = []
    for (stored,) in catalog.query("SELECT path FROM roots"):
        try:
            check_root(stored)
        except NotFound:
            continue
        except UsageError:
            if catalog.scalar("SELECT count(*) FROM samples WHERE root = ?", [stored]) == 0:
                refused.append(stored)
    if refused:
        with catalog.transaction(bump=False):
            for root in refused:
                catalog.conn.execute("DELETE FROM failures WHERE root = ?", (root,))
                catalog.conn.execute("DELETE FROM roots WHERE path = ?", (root,))
    return refused


def _rename_root(catalog: Catalog, old: str, new: str) -> int:
    conn = catalog.conn
    duplicates: list[int] = []
    rows = conn.execute("SELECT id, path FROM samples WHERE root = ?", (old,)).fetchall()
    for sample_id, path in rows:
        target = _moved(path, old, new) if path == old or path.startswith(old + "/") else path
        twin = conn.execute("SELECT id FROM samples WHERE path = ?", (target,)).fetchone()
        if twin is not None and twin[0] != sample_id:
            # The same file catalogued twice: what a user wrote on the alias row survives.
            merge_sample(catalog, twin[0], sample_id)
            duplicates.append(sample_id)
        else:
            conn.execute("UPDATE samples SET path = ?, root = ? WHERE id = ?",
                         (target, new, sample_id))
    if duplicates:
        catalog.delete_samples(duplicates)
    conn.execute("UPDATE OR REPLACE failures SET path = ? || substr(path, ?), root = ? "
                 "WHERE root = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                 (new, len(old) + 1, new, old, old, len(old) + 1, old + "/"))
    conn.execute("DELETE FROM failures WHERE root = ?", (old,))  # anything left is stale
    conn.execute("INSERT OR IGNORE INTO roots (path, added_at, last_scan_at) "
                 "SELECT ?, added_at, last_scan_at FROM roots WHERE path = ?", (new, old))
    conn.execute("DELETE FROM roots WHERE path = ?", (old,))
    return len(duplicates)
