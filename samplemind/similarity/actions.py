"""Acting on duplicate groups: move the redundant copies aside (undoably) or delete them.

Only the non-keepers are touched. A move writes a manifest first and updates it as
files move, so even an interrupted move can be undone; the moved samples leave the
catalog, and undo brings back their files, catalog entries, user tags and corrections.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, UsageError
from ..models import DupeAction, DupeGroup, FileFailure
from ..scan import re_resolve
from .dupes import relative_target

if TYPE_CHECKING:
    from ..catalog import Catalog

MANIFEST_KIND = "samplemind-dupes"
MANIFEST_VERSION = 1  # the dupes manifest's own format (not the JSON record's schema_version)


def _user_state(catalog: Catalog, sample_id: int) -> dict[str, Any]:
    tags = [row[0] for row in catalog.query(
        "SELECT tag FROM tags WHERE sample_id = ? AND source = 'user' ORDER BY tag", [sample_id])]
    return {"tags": tags, "overrides": catalog.overrides(sample_id)}


def _free_target(target: str) -> str:
    """target, or target with _2, _3 ... before the extension when it exists."""
    if not os.path.lexists(target):
        return target
    stem, ext = os.path.splitext(target)
    number = 2
    while os.path.lexists(f"{stem}_{number}{ext}"):
        number += 1
    return f"{stem}_{number}{ext}"


def _move_file(source: str, target: str, failed: str, result: DupeAction) -> bool:
    """Move a file, creating the target's folder; a failure is noted in result (as
    "<failed>: why") and the caller goes on with the next file."""
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(source, target)
    except OSError as exc:
        result.failures.append(FileFailure(source, f"{failed}: {exc.strerror or exc}"))
        return False
    return True


def _write_manifest(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def move(catalog: Catalog, groups: list[DupeGroup], folder: str | os.PathLike[str]) -> DupeAction:
    """Move the non-keepers of each group under folder, keeping their relative paths."""
    destination = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {destination}: {exc.strerror or exc}") from exc
    stamp = time.strftime("%Y%m%d-%H%M%S")
    manifest_path = destination / f"samplemind-dupes-{stamp}.json"
    manifest_path = Path(_free_target(str(manifest_path)))
    roots = dict(catalog.query("SELECT id, root FROM samples"))
    manifest: dict[str, Any] = {"kind": MANIFEST_KIND, "schema_version": MANIFEST_VERSION,
                                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "catalog": str(catalog.path), "files": []}
    result = DupeAction("move", manifest=str(manifest_path))
    moved_ids: list[int] = []
    _write_manifest(manifest_path, manifest)
    for group in groups:
        for sample in group.others:
            source = sample.path
            target = _free_target(relative_target(source, roots.get(sample.id), str(destination)))
            if not _move_file(source, target, "not moved", result):
                continue
            entry = {"id": sample.id, "from": source, "to": target, "root": roots.get(sample.id),
                     "hash": sample.record.get("hash"), "keeper": group.keeper.path,
                     **_user_state(catalog, sample.id)}
            manifest["files"].append(entry)
            result.files.append({"id": sample.id, "from": source, "to": target})
            moved_ids.append(sample.id)
            _write_manifest(manifest_path, manifest)  # after every file: a crash stays undoable
    if moved_ids:
        with catalog.transaction():
            catalog.delete_samples(moved_ids)
    return result


def delete(catalog: Catalog, groups: list[DupeGroup]) -> DupeAction:
    """Delete the non-keepers' files and catalog entries."""
    result = DupeAction("delete")
    deleted: list[int] = []
    for group in groups:
        for sample in group.others:
            try:
                os.unlink(sample.path)
            except FileNotFoundError:
                pass  # already gone: the catalog entry goes too
            except OSError as exc:
                result.failures.append(FileFailure(sample.path,
                                                   f"not deleted: {exc.strerror or exc}"))
                continue
            deleted.append(sample.id)
            result.files.append({"id": sample.id, "from": sample.path})
    if deleted:
        with catalog.transaction():
            catalog.delete_samples(deleted)
    return result


def undo(catalog: Catalog, manifest_file: str | os.PathLike[str],
         rescan: Callable[[list[str]], object]) -> DupeAction:
    """Move the files of a dupes manifest back; rescan them (rescan: the library's scan
    of those paths); restore tags and corrections."""
    path = Path(os.path.expanduser(os.fspath(manifest_file)))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"no such manifest: {path}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"not a samplemind dupes manifest: {path} ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise UsageError(f"not a samplemind dupes manifest: {path}")
    result = DupeAction("undo", manifest=str(path))
    restored: list[dict[str, Any]] = []
    for entry in manifest.get("files", []):
        source, target = entry.get("to"), entry.get("from")
        if not source or not target:
            continue
        if os.path.lexists(target):
            result.failures.append(FileFailure(target, "not restored: a file is in the way"))
            continue
        if not _move_file(source, target, "not restored", result):
            continue
        restored.append(entry)
        result.files.append({"id": entry.get("id"), "from": source, "to": target})
    if restored:
        # Rescan where they came from (their old root, so root bookkeeping stays right);
        # the cached analysis makes this quick.
        targets = {entry["root"] if entry.get("root") and os.path.isdir(entry["root"])
                   and entry["from"].startswith(entry["root"].rstrip("/") + "/")
                   else entry["from"] for entry in restored}
        rescan(sorted(targets))
        with catalog.transaction():
            for entry in restored:
                sample_id = catalog.scalar("SELECT id FROM samples WHERE path = ?",
                                                   [entry["from"]])
                if sample_id is None:
                    continue
                catalog.set_tags(sample_id, entry.get("tags") or [], "user")
                for field, value in (entry.get("overrides") or {}).items():
                    catalog.set_override(sample_id, field, value)
        for entry in restored:
            sample_id = catalog.scalar("SELECT id FROM samples WHERE path = ?",
                                               [entry["from"]])
            if sample_id is not None and entry.get("overrides"):
                with catalog.transaction():
                    re_resolve(catalog, sample_id)
        remaining = [e for e in manifest.get("files", []) if e not in restored]
        manifest["files"] = remaining
        manifest["undone_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _write_manifest(path, manifest)
    return result
