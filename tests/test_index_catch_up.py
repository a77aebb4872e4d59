"""The saved vector index follows the catalog generation: a generation that changed no
vector (a tag edit, a no-op scan) moves only the sidecar, index.json; the .faiss file is
rewritten only when vectors were added, changed or removed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from samplemind import Library

from helpers import write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


@pytest.fixture
def scanned(library: Library, tmp_path: Path) -> Library:
    write_library(tmp_path / "lib", 6)
    assert library.scan([tmp_path / "lib"]).added == 6
    library.similar([1], k=2)  # builds and saves the index
    return library


def _sidecar(library: Library) -> dict:
    return json.loads((library.index.folder / "index.json").read_text())


def _faiss_files(library: Library) -> dict[str, tuple[int, int]]:
    """name -> (inode, mtime_ns) of every saved index file."""
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in library.index.folder.glob("vectors-*.faiss")}


def _reopened(library: Library) -> Library:
    return Library(library.paths.data_dir, jobs=1)


def _assert_loads_current_without_catch_up(library: Library) -> None:
    fresh = _reopened(library)
    try:
        index = fresh.index.current()
        assert fresh.index.last_action == "loaded"
        assert index.info.generation == fresh.catalog.generation
        assert index.count == fresh.catalog.count()
        assert fresh.similar([fresh.catalog.scalar("SELECT min(id) FROM samples")], k=1)
    finally:
        fresh.close()


def test_a_tag_edit_moves_the_sidecar_and_keeps_the_index_file(scanned: Library):
    files = _faiss_files(scanned)
    before = scanned.catalog.generation
    scanned.tag([1], ["warm"])
    assert scanned.catalog.generation == before + 1
    scanned.similar([1], k=2)  # catches up
    assert scanned.index.last_action == "updated: no vector changed"
    meta = _sidecar(scanned)
    assert meta["generation"] == scanned.catalog.generation
    assert _faiss_files(scanned) == files  # same name, same file, not rewritten
    assert meta["file"] in files and meta["file"] != f"vectors-{meta['generation']}-" \
        f"{os.getpid()}.faiss"  # its name keeps the generation it was written at
    _assert_loads_current_without_catch_up(scanned)


def test_a_no_op_scan_moves_the_sidecar_without_reading_the_index(scanned: Library,
                                                                  tmp_path: Path):
    (tmp_path / "empty").mkdir()
    files = _faiss_files(scanned)
    other = _reopened(scanned)  # a new process: nothing loaded yet
    try:
        report = other.scan([tmp_path / "empty"])
        assert report.seen == 0
        assert other.catalog.generation > scanned.index.current().info.generation - 1
        assert other.index.last_action == "updated: no vector changed (saved index, not loaded)"
        assert _sidecar(other)["generation"] == other.catalog.generation
        report = other.scan([tmp_path / "lib"])  # nothing changed there either
        assert report.unchanged == 6
        assert _sidecar(other)["generation"] == other.catalog.generation
    finally:
        other.close()
    assert _faiss_files(scanned) == files
    _assert_loads_current_without_catch_up(scanned)


def test_a_no_op_scan_with_the_index_loaded_moves_it_in_memory_too(scanned: Library,
                                                                   tmp_path: Path):
    (tmp_path / "empty").mkdir()
    files = _faiss_files(scanned)
    index = scanned.index.current()
    scanned.scan([tmp_path / "empty"])
    assert scanned.index.last_action == "updated: no vector changed"
    assert scanned.index.current() is index
    assert index.info.generation == scanned.catalog.generation == _sidecar(scanned)["generation"]
    assert _faiss_files(scanned) == files
    _assert_loads_current_without_catch_up(scanned)


def test_an_index_loaded_elsewhere_follows_a_moved_sidecar_without_reloading(
        scanned: Library, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    index = scanned.index.current()  # loaded here (the server, say) ...
    other = _reopened(scanned)  # ... while another process scans and finds nothing new
    try:
        other.tag([1], ["warm"])
        other.scan([tmp_path / "empty"])
    finally:
        other.close()
    assert scanned.index.current() is index  # the same object, not read again
    assert scanned.index.last_action == "followed the saved index (no vector changed)"
    assert index.info.generation == scanned.catalog.generation


def test_vector_changes_after_a_moved_sidecar_rewrite_the_index_file(scanned: Library,
                                                                    tmp_path: Path):
    scanned.tag([1], ["warm"])
    scanned.similar([1], k=2)  # sidecar only: the file keeps its older name
    old = set(_faiss_files(scanned))
    write_hit(tmp_path / "lib" / "Toms" / "new.wav", freq=300, seed=42)
    report = scanned.scan([tmp_path / "lib"])
    assert report.added == 1
    scanned.index.current()  # (too few named samples for the scan's teaching to ask)
    assert scanned.index.last_action == "updated: 1 added or changed, 0 removed"
    meta = _sidecar(scanned)
    files = _faiss_files(scanned)
    assert list(files) == [meta["file"]] and not old & set(files)  # the older one is gone
    assert meta["generation"] == scanned.catalog.generation and meta["count"] == 7
    _assert_loads_current_without_catch_up(scanned)


def test_a_removal_rewrites_the_index_and_prunes_the_change_log(scanned: Library,
                                                               tmp_path: Path):
    old = set(_faiss_files(scanned))
    (tmp_path / "lib" / "Kicks" / "hit_001.wav").unlink()
    assert scanned.scan([tmp_path / "lib"]).removed == 1
    scanned.index.current()
    assert scanned.index.last_action == "updated: 0 added or changed, 1 removed"
    assert not old & set(_faiss_files(scanned))
    generation = scanned.catalog.generation
    assert _sidecar(scanned)["generation"] == generation and _sidecar(scanned)["count"] == 5
    assert scanned.catalog.scalar("SELECT count(*) FROM removed") == 0
    assert scanned.catalog.oldest_removal_kept() == generation
    _assert_loads_current_without_catch_up(scanned)


def test_a_library_that_shrank_by_half_is_still_rebuilt(scanned: Library, tmp_path: Path):
    for path in sorted((tmp_path / "lib").rglob("*.wav"))[:4]:
        path.unlink()
    assert scanned.scan([tmp_path / "lib"]).removed == 4
    scanned.index.current()
    assert scanned.index.last_action == \
        "rebuilt: the library grew or shrank too much for in-place updates"
    assert scanned.index.current().count == 2
    _assert_loads_current_without_catch_up(scanned)


def test_an_index_file_saved_by_someone_else_is_replaced_not_renamed(scanned: Library):
    # Another process saved its own file for this generation since this one was loaded:
    # the sidecar no longer names this index's file, so a move must save it whole.
    folder = scanned.index.folder
    meta = _sidecar(scanned)
    shutil.copy(folder / meta["file"], folder / "vectors-0-1.faiss")
    (folder / "index.json").write_text(json.dumps({**meta, "file": "vectors-0-1.faiss"}))
    scanned.tag([1], ["warm"])
    scanned.similar([1], k=2)
    meta = _sidecar(scanned)
    assert meta["generation"] == scanned.catalog.generation
    assert list(_faiss_files(scanned)) == [meta["file"]] != ["vectors-0-1.faiss"]
    _assert_loads_current_without_catch_up(scanned)


def test_a_sidecar_naming_a_missing_file_is_not_moved_on(scanned: Library, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    meta = _sidecar(scanned)
    (scanned.index.folder / meta["file"]).unlink()
    other = _reopened(scanned)
    try:
        other.scan([tmp_path / "empty"])
        assert other.index.last_action.startswith("rebuilt")
    finally:
        other.close()
    _assert_loads_current_without_catch_up(scanned)


def test_the_index_file_is_rewritten_only_once_enough_vectors_changed(
        scanned: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The saved index and the change log since its generation are the index: the file is
    rewritten once the vectors changed since it reach SAVE_AFTER of its count (here half of
    6), not after every change. Until then another process (or this one after a crash)
    loads the older file and catches up to the same index, the removals it must apply stay
    in the log, and a no-op scan elsewhere neither reads nor rewrites the index."""
    from samplemind.similarity import manager

    monkeypatch.setattr(manager, "SAVE_AFTER", 0.5)
    files, saved = _faiss_files(scanned), _sidecar(scanned)
    lib = tmp_path / "lib"

    def same_index_elsewhere() -> None:
        fresh = _reopened(scanned)
        try:
            index, here = fresh.index.current(), scanned.index.current()
            assert fresh.index.last_action.startswith("updated:")  # caught up from the log
            assert index.info.generation == fresh.catalog.generation == here.info.generation
            assert sorted(index.ids()) == sorted(here.ids()) == \
                [row[0] for row in fresh.catalog.query("SELECT id FROM samples ORDER BY id")]
            first = fresh.catalog.scalar("SELECT min(id) FROM samples")
            assert [(h.sample.id, h.distance) for h in fresh.similar([first], k=3)] == \
                [(h.sample.id, h.distance) for h in scanned.similar([first], k=3)]
            fresh.scan([lib])  # nothing new: the saved index is left as it is, not loaded
            assert fresh.index._index is index
            assert _faiss_files(fresh) == files and _sidecar(fresh) == saved
        finally:
            fresh.close()
        other = _reopened(scanned)
        try:
            other.scan([lib])  # a no-op scan in a process that has not loaded the index
            assert other.index._index is None
            assert _faiss_files(other) == files and _sidecar(other) == saved
        finally:
            other.close()

    write_hit(lib / "new_1.wav", freq=300, seconds=0.4, seed=31)
    assert scanned.scan([lib]).added == 1
    # Caught up in place from the log (by the scan's own steps when they searched the index,
    # or now), not rebuilt; the new sample is in it.
    index = scanned.index.current()
    assert scanned.index.last_action.startswith("updated:")
    assert scanned.catalog.scalar("SELECT max(id) FROM samples") in index.ids().tolist()
    assert _faiss_files(scanned) == files and _sidecar(scanned) == saved  # not rewritten
    same_index_elsewhere()
    (lib / "Kicks" / "hit_001.wav").unlink()
    assert scanned.scan([lib]).removed == 1
    scanned.index.current()
    assert _faiss_files(scanned) == files and _sidecar(scanned) == saved
    assert scanned.catalog.scalar("SELECT count(*) FROM removed") == 1  # kept for a loader
    same_index_elsewhere()
    scanned.tag([scanned.catalog.scalar("SELECT min(id) FROM samples")], ["warm"])
    scanned.index.current()
    assert scanned.index.last_action == "updated: no vector changed"
    assert _faiss_files(scanned) == files and _sidecar(scanned) == saved
    write_hit(lib / "new_2.wav", freq=420, seconds=0.4, seed=32)
    assert scanned.scan([lib]).added == 1
    scanned.index.current()  # 3 vectors changed since the file: due
    meta = _sidecar(scanned)
    assert meta["generation"] == scanned.catalog.generation and meta["count"] == 7
    assert list(_faiss_files(scanned)) == [meta["file"]] and meta["file"] not in files
    assert scanned.catalog.scalar("SELECT count(*) FROM removed") == 0
    _assert_loads_current_without_catch_up(scanned)
