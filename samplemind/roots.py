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


def _rename_root(catalog: Catalog, old: str, new: str) -> int:
    conn = catalog.conn
    duplicates: list[int] = []
    rows = conn.execute("SELECT id, path FROM samples WHERE root = ?", (old,)).fetchall()
    for sample_id, path in rows:
        target = _moved(path, old, new) if path == old or path.startswith(old + "/") else path
        twin = conn.execute("SELECT id FROM samples WHERE path = ?", (target,)).fetchone()
        if twin is not None and twin[0] != sample_id:
            # The same file catalogued twice: what a user wrote on the alias row survives.
            for table, columns in (("tags", "tag, source"), ("overrides", "field, value, set_at")):
                conn.execute(f"INSERT OR IGNORE INTO {table} (sample_id, {columns}) "
                             f"SELECT ?, {columns} FROM {table} WHERE sample_id = ?",
                             (twin[0], sample_id))
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
