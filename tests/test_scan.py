"""Scanning: incremental rescans, moves, removals, the cache, bad files, and scans that are
killed or run two at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samplemind import Library

from helpers import run_cli, wait_for_rows, write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


def test_first_scan_adds_every_file(library: Library, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 6)
    report = library.scan([tmp_path / "lib"])
    assert (report.added, report.failed, report.analysed) == (6, 0, 6)
    assert library.catalog.count() == 6
    sample = library.get(str(tmp_path / "lib" / "Kicks" / "hit_001.wav"))
    assert sample.record["format"] == "wav" and sample.record["duration"] == pytest.approx(0.4, abs=0.01)


def test_rescan_of_unchanged_files_opens_nothing(library: Library, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 5)
    library.scan([tmp_path / "lib"])
    report = library.scan([tmp_path / "lib"])
    assert (report.unchanged, report.hashed, report.analysed, report.cache_hits) == (5, 0, 0, 0)


def test_a_scan_that_finds_nothing_new_keeps_the_generation(library: Library, tmp_path: Path) -> None:
    """Followers of the catalog (index sidecar, server caches, the map) see no change; the root
    is still stamped as scanned. A root never scanned before is a change (stats list it)."""
    write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    generation = library.catalog.generation
    with library.catalog.transaction(bump=False):
        library.catalog.conn.execute("UPDATE roots SET last_scan_at = '2001-01-01T00:00:00Z'")
    report = library.scan([tmp_path / "lib"])
    assert report.unchanged == 3 and library.catalog.generation == generation
    assert library.catalog.scalar("SELECT last_scan_at FROM roots") > "2001-01-01T00:00:00Z"
    (tmp_path / "other").mkdir()
    library.scan([tmp_path / "other"])
    assert library.catalog.generation == generation + 1
    assert library.roots() == sorted([str(tmp_path / "lib"), str(tmp_path / "other")])
    (tmp_path / "lib" / "Kicks" / "hit_001.wav").unlink()
    assert library.scan([tmp_path / "lib"]).removed == 1
    assert library.catalog.generation == generation + 2


def test_changed_content_is_analysed_again(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    before = library.get(str(paths[0])).record
    write_hit(paths[0], freq=440, seconds=0.9, seed=99)
    report = library.scan([tmp_path / "lib"])
    assert (report.updated, report.analysed, report.unchanged) == (1, 1, 2)
    after = library.get(str(paths[0])).record
    assert after["id"] == before["id"]
    assert after["duration"] == pytest.approx(0.9, abs=0.01)


def test_touched_file_is_hashed_but_not_analysed(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 2)
    library.scan([tmp_path / "lib"])
    stamp = time.time() + 5
    os.utime(paths[0], (stamp, stamp))
    report = library.scan([tmp_path / "lib"])
    assert (report.hashed, report.analysed, report.unchanged) == (1, 0, 2)


def test_moved_file_keeps_its_id_and_is_not_analysed(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    old = library.get(str(paths[0])).record
    target = tmp_path / "lib" / "Moved" / "renamed_kick.wav"
    target.parent.mkdir()
    shutil.move(paths[0], target)
    report = library.scan([tmp_path / "lib"])
    assert (report.moved, report.analysed, report.removed, report.added) == (1, 0, 0, 0)
    new = library.get(str(target)).record
    assert new["id"] == old["id"] and new["name"] == "renamed_kick.wav"
    assert new["hash"] == old["hash"]


def test_deleted_files_leave_the_catalog(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 4)
    library.scan([tmp_path / "lib"])
    paths[1].unlink()
    report = library.scan([tmp_path / "lib"])
    assert report.removed == 1
    assert library.catalog.count() == 3


def test_other_roots_are_untouched_by_a_scan(library: Library, tmp_path: Path) -> None:
    write_library(tmp_path / "one", 2)
    write_library(tmp_path / "two", 3)
    library.scan([tmp_path / "one"])
    library.scan([tmp_path / "two"])
    report = library.scan([tmp_path / "one"])
    assert report.removed == 0 and library.catalog.count() == 5


def test_deleting_the_catalog_then_rescanning_analyses_nothing(samplemind_home: Path,
                                                               tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 4)
    with Library(samplemind_home, jobs=2) as first:
        first.scan([tmp_path / "lib"])
    (samplemind_home / "library.db").unlink()
    for leftover in samplemind_home.glob("library.db-*"):
        leftover.unlink()
    with Library(samplemind_home, jobs=2) as second:
        report = second.scan([tmp_path / "lib"])
        assert (report.added, report.analysed, report.cache_hits) == (4, 0, 4)
        stats = second.cache_stats()
        assert stats["entries"] == 4 and stats["hits"] >= 4


def test_bad_files_fail_alone_with_clear_messages(library: Library, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_library(lib, 3)
    (lib / "empty.wav").write_bytes(b"")
    (lib / "text.wav").write_text("this is not audio at all\n" * 50)
    good = write_hit(lib / "full.wav", seconds=1.0)
    truncated = lib / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:40])
    report = library.scan([lib])
    failed = {Path(failure.path).name: failure.error for failure in report.failures}
    assert set(failed) == {"empty.wav", "text.wav", "truncated.wav"}
    assert report.added == 4 and report.failed == 3
    assert all(message and "Traceback" not in message for message in failed.values())
    assert "empty" in failed["empty.wav"]
    # Unchanged failures are reported again without paying for them, and counted as failed.
    again = library.scan([lib])
    assert (again.failed, again.analysed, again.hashed) == (3, 0, 0)


def test_a_crashing_worker_fails_only_its_file(library: Library, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_library(tmp_path / "lib", 8)
    monkeypatch.setenv("SAMPLEMIND_FAULT_INJECT", "abort:hit_003.wav")
    report = library.scan([tmp_path / "lib"])
    assert report.added == 7 and report.failed == 1
    assert report.failures[0].path.endswith("hit_003.wav")
    assert "crashed" in report.failures[0].error and "SIGABRT" in report.failures[0].error


def test_a_hanging_file_times_out(samplemind_home: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_library(tmp_path / "lib", 4)
    monkeypatch.setenv("SAMPLEMIND_FAULT_INJECT", "hang:hit_002.wav")
    with Library(samplemind_home, jobs=2, timeout=3) as library:
        report = library.scan([tmp_path / "lib"])
    assert report.added == 3 and report.failed == 1
    assert "timed out" in report.failures[0].error


def test_retry_failed_analyses_unchanged_failures_again(library: Library, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write_library(tmp_path / "lib", 2)
    monkeypatch.setenv("SAMPLEMIND_FAULT_INJECT", "raise:hit_000.wav")
    assert library.scan([tmp_path / "lib"]).failed == 1
    monkeypatch.delenv("SAMPLEMIND_FAULT_INJECT")
    report = library.scan([tmp_path / "lib"], retry_failed=True)
    assert (report.failed, report.added) == (0, 1)
    assert library.failures() == []


def test_scanning_a_missing_folder_is_an_error(library: Library, tmp_path: Path) -> None:
    from samplemind.errors import NotFound

    with pytest.raises(NotFound, match="no such file or folder"):
        library.scan([tmp_path / "nope"])


def test_scanning_one_file_of_a_scanned_folder(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 3)
    library.scan([tmp_path / "lib"])
    assert library.scan([paths[0]]).unchanged == 1
    write_hit(paths[0], freq=220, seconds=0.7, seed=5)
    report = library.scan([paths[0]])
    assert (report.updated, report.added, report.removed) == (1, 0, 0)
    assert library.catalog.count() == 3


def test_same_file_reached_twice_is_catalogued_once(library: Library, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 2)
    report = library.scan([tmp_path / "lib", tmp_path / "lib" / "Kicks"])
    assert (report.seen, report.added, library.catalog.count()) == (2, 2, 2)


def test_copies_with_the_same_bytes_are_analysed_once(library: Library, tmp_path: Path) -> None:
    original = write_hit(tmp_path / "lib" / "a" / "kick.wav")
    for name in ("b", "c", "d"):
        (tmp_path / "lib" / name).mkdir()
        shutil.copyfile(original, tmp_path / "lib" / name / "kick.wav")
    report = library.scan([tmp_path / "lib"])
    assert (report.added, report.analysed) == (4, 1)
    hashes = {sample.record["hash"] for sample in library.ls()}
    assert len(hashes) == 1


def test_a_damaged_cache_is_set_aside_not_fatal(samplemind_home: Path, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 2)
    cache_dir = samplemind_home / "cache" / "features"
    cache_dir.mkdir(parents=True)
    (cache_dir / "cache.db").write_bytes(b"this is not a database" * 100)
    with Library(samplemind_home, jobs=2) as library:
        report = library.scan([tmp_path / "lib"])
        assert (report.added, report.failed) == (2, 0)
        assert library.cache_stats()["entries"] == 2
    assert list((samplemind_home / "cache").glob("features.damaged-*"))


def test_a_damaged_catalog_is_a_clear_error(samplemind_home: Path) -> None:
    from samplemind.errors import CatalogError

    samplemind_home.mkdir(parents=True)
    (samplemind_home / "library.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(CatalogError, match="move it aside and scan again"):
        Library(samplemind_home)
    assert (samplemind_home / "library.db").read_bytes() == b"garbage" * 1000


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_warning(library: Library,
                                                                 tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    good = write_hit(lib / "good_kick.wav")
    bad = os.path.join(os.fsencode(lib), b"caf\xe9_kick.wav")
    shutil.copyfile(good, bad)
    report = library.scan([lib])
    assert (report.added, report.failed, report.skipped) == (1, 0, 1)
    assert "not valid UTF-8" in report.warnings[0].error


def test_an_unreadable_folder_keeps_its_catalogued_files(library: Library, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import samplemind.scanner as scanner

    write_library(tmp_path / "lib", 4)
    library.scan([tmp_path / "lib"])
    locked = str(tmp_path / "lib" / "Kicks")
    real_scandir = os.scandir

    def scandir(path):  # as root, chmod 000 does not stop us: simulate the refusal
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    report = library.scan([tmp_path / "lib"])
    assert (report.removed, report.unchanged, report.skipped) == (0, 2, 1)
    assert "Permission denied" in report.warnings[0].error
    assert library.catalog.count() == 4


def test_identical_copies_moved_together_keep_their_ids(library: Library, tmp_path: Path) -> None:
    first = write_hit(tmp_path / "lib" / "a.wav")
    shutil.copyfile(first, tmp_path / "lib" / "b.wav")
    library.scan([tmp_path / "lib"])
    ids = {sample.id for sample in library.ls()}
    (tmp_path / "lib" / "new").mkdir()
    for name in ("a.wav", "b.wav"):
        shutil.move(tmp_path / "lib" / name, tmp_path / "lib" / "new" / name)
    report = library.scan([tmp_path / "lib"])
    assert (report.moved, report.added, report.removed) == (2, 0, 0)
    assert {sample.id for sample in library.ls()} == ids


def test_a_renamed_root_is_recognised_as_moves(library: Library, tmp_path: Path) -> None:
    write_library(tmp_path / "Samples", 3)
    library.scan([tmp_path / "Samples"])
    ids = {sample.id for sample in library.ls()}
    (tmp_path / "Samples").rename(tmp_path / "Samples2")
    report = library.scan([tmp_path / "Samples2"])
    assert (report.moved, report.added, report.analysed) == (3, 0, 0)
    assert {sample.id for sample in library.ls()} == ids
    assert all("/Samples2/" in sample.path for sample in library.ls())


def test_an_unchanged_corrupted_file_is_not_retried(library: Library, tmp_path: Path) -> None:
    paths = write_library(tmp_path / "lib", 2)
    library.scan([tmp_path / "lib"])
    paths[0].write_bytes(b"garbage" * 100)
    first = library.scan([tmp_path / "lib"])
    assert (first.failed, first.hashed) == (1, 1)
    again = library.scan([tmp_path / "lib"])
    assert (again.failed, again.hashed, again.analysed) == (1, 0, 0)
    assert library.catalog.count() == 2  # the last good analysis is kept, not lost


def test_names_above_the_scanned_root_are_not_evidence(library: Library, tmp_path: Path) -> None:
    write_hit(tmp_path / "Loops 120bpm" / "Kicks" / "thud.wav")
    library.scan([tmp_path / "Loops 120bpm" / "Kicks"])
    record = next(library.ls()).record
    assert record["category"] == "kick" and record["category_source"] == "filename"
    assert record["type"] == "oneshot" and record["bpm"] is None


# -- a scan killed, or two at once, through the command line ---------------------------


def test_kill_9_mid_scan_then_rescan_completes_with_catalog_intact(samplemind_home: Path,
                                                                    tmp_path: Path) -> None:
    import sqlite3

    write_library(tmp_path / "lib", 40)
    env = dict(os.environ, SAMPLEMIND_HOME=str(samplemind_home),
               SAMPLEMIND_FAULT_INJECT="hang:hit_039.wav")
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "scan", "-j", "2",
                                str(tmp_path / "lib")], env=env, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    # Batches of 16 (20 kicks, then 20 toms): the second batch holds the hanging file;
    # the first and third finish on the other worker and are committed while it hangs.
    assert wait_for_rows(samplemind_home / "library.db", at_least=24) >= 24
    os.killpg(process.pid, signal.SIGKILL)  # the scan and its workers, mid-write
    process.wait(timeout=30)
    resumed = run_cli("scan", "-f", "json", str(tmp_path / "lib"), home=samplemind_home)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["added"] + report["unchanged"] == 40
    assert report["analysed"] < 40
    with sqlite3.connect(samplemind_home / "library.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 40


def test_two_scans_at_once_both_finish(samplemind_home: Path, tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 20)
    env = dict(os.environ, SAMPLEMIND_HOME=str(samplemind_home))
    command = [sys.executable, "-m", "samplemind", "scan", "-j", "1", str(tmp_path / "lib")]
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    assert second.wait(timeout=120) == 0, second.stderr.read()
    figures = json.loads(run_cli("stats", "-f", "json", home=samplemind_home).stdout)
    assert figures["samples"] == 20
