"""Watch folders: real files, a real Library and a real observer (inotify, or polling)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from samplemind import Library, synth
from samplemind.errors import NotFound, UsageError
from samplemind.scanner import hash_file
from samplemind.watch import WatchEvent, watch

from audio_fixtures import write_audio
from helpers import PACK_SR, REPO, ls_names, write_hit

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

QUICK: dict[str, Any] = {"quiet": 0.2, "settle": 0.2, "max_wait": 5.0}
# How long a wait may take before the test fails: a ceiling, not an expectation (a passing run
# returns as soon as its condition holds), generous for a busy 2-core machine.
CEILING = 120.0  # was 30 s; under pytest-timeout's 300 s per test (pyproject)


class Watching:
    """watch() running in a thread, with the events it reported."""

    def __init__(self, library: Library, roots: list[Path], **options: Any) -> None:
        self.events: list[WatchEvent] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(library, roots, options), daemon=True)

    def _run(self, library: Library, roots: list[Path], options: dict[str, Any]) -> None:
        try:
            watch(library, roots, on_event=self.events.append, stop=self.stop, **options)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def start(self) -> Watching:
        self.thread.start()
        wait_for(lambda: self.of_kind("ready"), what="the watch to be ready", run=self)
        return self

    def close(self, timeout: float = 60.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"watch() did not stop within {timeout} s"
        if self.error is not None:
            raise self.error

    def of_kind(self, kind: str) -> list[WatchEvent]:
        return [event for event in list(self.events) if event.kind == kind]

    def scans_after_ready(self) -> list[WatchEvent]:
        events = list(self.events)
        ready = next(i for i, event in enumerate(events) if event.kind == "ready")
        return [event for event in events[ready:] if event.kind == "scan"]

    def total(self, count: str) -> int:
        """A ScanReport count summed over the scans after the initial one."""
        return sum(getattr(event.report, count) for event in self.scans_after_ready())


def wait_for(condition: Callable[[], Any], *, timeout: float = CEILING, what: str = "a condition",
             run: Watching | None = None) -> Any:
    """Poll until condition() is true (NotFound counts as false); fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except NotFound:
            value = None
        if value:
            return value
        if run is not None and run.error is not None:
            raise run.error
        if time.monotonic() > deadline:
            events = [(e.kind, e.paths, e.message) for e in run.events] if run else []
            pytest.fail(f"timed out after {timeout} s waiting for {what}; events: {events}")
        time.sleep(0.05)


@pytest.fixture
def reader(samplemind_home: Path):
    """A second Library on the same catalog, for the test thread: the watched one is
    busy on the watch thread (a Library is not thread-safe), like `ls` in a terminal."""
    lib = Library(samplemind_home, jobs=1)
    yield lib
    lib.close()


@pytest.fixture
def start_watch(library: Library):
    """Start watch() in a thread; stopped (and checked to stop) at the end of the test."""
    runs: list[Watching] = []

    def start(*roots: Path, **options: Any) -> Watching:
        run = Watching(library, list(roots), **{**QUICK, **options})
        runs.append(run)
        return run.start()

    yield start
    for run in runs:
        run.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "Samples"
    (folder / "Kicks").mkdir(parents=True)
    (folder / "Toms").mkdir()
    return folder


def _watchdog_threads() -> list[threading.Thread]:
    from watchdog.utils import BaseThread

    return [thread for thread in threading.enumerate()
            if isinstance(thread, BaseThread) and thread.is_alive()]


# -- the everyday cases -----------------------------------------------------------------


def test_added_file_is_catalogued_and_idle_watch_does_not_rescan(start_watch, reader, root):
    run = start_watch(root)
    (root / "notes.txt").write_text("not audio")
    (root / "Kicks" / ".hidden.wav").write_bytes(b"hidden files are never scanned")
    path = write_hit(root / "Kicks" / "kick.wav", seconds=0.05)

    sample = wait_for(lambda: reader.get(path), what="the new file in the catalog", run=run)
    assert sample.record["hash"] == hash_file(str(path))
    wait_for(lambda: run.total("added"), what="the scan report", run=run)
    scans = len(run.of_kind("scan"))
    # Scanning reads the files (hash, analysis): those reads must not trigger more scans.
    time.sleep(1.0)
    assert len(run.of_kind("scan")) == scans
    assert [sample.path for sample in reader.ls()] == [str(path)]


def test_changed_file_is_updated(start_watch, reader, root):
    path = write_hit(root / "Toms" / "tom.wav", freq=90, seconds=0.05)
    run = start_watch(root)
    before = reader.get(path)  # the initial scan catalogued it before "ready"

    write_hit(path, freq=140, seconds=0.05, seed=5)
    new_hash = hash_file(str(path))
    after = wait_for(lambda: (s := reader.get(path)).record["hash"] == new_hash and s,
                     what="the new content in the catalog", run=run)
    assert after.id == before.id
    assert after.record["hash"] != before.record["hash"]


def test_move_between_folders_keeps_the_id(start_watch, reader, root):
    old = write_hit(root / "Kicks" / "hit.wav", seconds=0.05)
    run = start_watch(root)
    sample_id = reader.get(old).id

    new = root / "Toms" / "hit.wav"
    os.rename(old, new)
    moved = wait_for(lambda: reader.get(new), what="the moved file", run=run)
    assert moved.id == sample_id
    with pytest.raises(NotFound):
        reader.get(old)
    wait_for(lambda: run.total("moved") == 1, what="the move in a scan report", run=run)
    assert run.total("analysed") == 0 and run.total("added") == 0


def test_deleted_file_leaves_the_catalog(start_watch, reader, root):
    keep = write_hit(root / "Kicks" / "keep.wav", seconds=0.05)
    gone = write_hit(root / "Toms" / "gone.wav", seconds=0.05, seed=2, freq=80)
    run = start_watch(root)
    assert reader.get(gone)

    gone.unlink()
    wait_for(lambda: [s.path for s in reader.ls()] == [str(keep)], what="the removal", run=run)


def test_a_burst_of_1000_copies_is_all_catalogued(start_watch, reader, root, tmp_path):
    source = write_hit(tmp_path / "source.wav", seconds=0.05)
    run = start_watch(root)

    burst = root / "Burst"
    burst.mkdir()
    for index in range(1000):
        shutil.copyfile(source, burst / f"copy_{index:04d}.wav")

    # (Scans commit as they go: wait for the reports, not just the catalog.)
    wait_for(lambda: run.total("added") >= 1000, what="1000 added", run=run)
    assert reader.stats()["samples"] == 1000
    reports = [event.report for event in run.scans_after_ready()]
    assert sum(r.added for r in reports) == 1000
    assert sum(r.analysed for r in reports) == 1  # identical bytes are analysed once
    assert not any(r.failed for r in reports)


def test_a_file_still_being_written_is_analysed_once_complete(start_watch, reader, root, tmp_path):
    data = write_hit(tmp_path / "whole.wav", seconds=0.5).read_bytes()
    run = start_watch(root, max_wait=30.0)
    path = root / "Kicks" / "slow_copy.wav"

    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(1.0)  # a slow writer: longer than quiet and settle, the file still open
        assert not run.scans_after_ready(), "a half-written file was scanned"
        handle.write(data[len(data) // 2:])

    sample = wait_for(lambda: reader.get(path), what="the completed file", run=run)
    assert sample.record["hash"] == hash_file(str(path))
    assert sample.record["duration"] == pytest.approx(0.5, abs=0.01)
    wait_for(lambda: run.total("analysed") >= 1, what="the scan report", run=run)
    assert run.total("analysed") == 1 and run.total("failed") == 0


def test_a_folder_tree_copied_in_is_catalogued(start_watch, reader, root, tmp_path):
    pack = tmp_path / "Pack"
    files = [write_hit(pack / sub / f"hit_{i}.wav", seconds=0.05, seed=i, freq=50 + 9 * i)
             for i, sub in enumerate(["Kicks", "Kicks/808", "Snares/Deep/Very", "Snares"])]
    run = start_watch(root)

    shutil.copytree(pack, root / "Pack")
    expected = sorted(str(root / path.relative_to(tmp_path)) for path in files)
    wait_for(lambda: sorted(s.path for s in reader.ls()) == expected, what="the copied tree", run=run)


def test_stop_ends_the_watch_promptly_and_cleanly(library, root):
    run = Watching(library, [root], **QUICK).start()
    assert _watchdog_threads()
    started = time.monotonic()
    run.close(timeout=60.0)  # a generous ceiling: a loaded machine may take seconds
    assert time.monotonic() - started < 60.0
    assert run.events[-1].kind == "stopped"
    assert not _watchdog_threads()


def test_ctrl_c_stops_the_observers_and_is_raised_again(library, root):
    seen: list[str] = []

    def on_event(event: WatchEvent) -> None:
        seen.append(event.kind)
        if event.kind == "ready":
            raise KeyboardInterrupt  # what Ctrl-C does to the watching thread

    with pytest.raises(KeyboardInterrupt):
        watch(library, [root], on_event=on_event, **QUICK)
    assert seen[-1] == "stopped"
    assert not _watchdog_threads()


def test_polling_fallback_catalogues_added_files(start_watch, reader, root):
    run = start_watch(root, force_polling=True, poll_interval=0.2)
    assert "polling" in run.of_kind("ready")[0].message
    path = write_hit(root / "Toms" / "polled.wav", seconds=0.05)
    wait_for(lambda: reader.get(path), what="the file, by polling", run=run)


# -- less common cases ------------------------------------------------------------------


def test_move_between_two_watched_roots_keeps_the_id(start_watch, reader, tmp_path):
    first, second = tmp_path / "One", tmp_path / "Two"
    second.mkdir()
    old = write_hit(first / "hit.wav", seconds=0.05)
    run = start_watch(first, second)
    sample_id = reader.get(old).id

    new = second / "hit.wav"
    shutil.move(old, new)
    assert wait_for(lambda: reader.get(new), what="the moved file", run=run).id == sample_id


def test_overflowed_events_rescan_every_root(start_watch, root):
    run = start_watch(root)
    # What watchdog logs when the kernel's inotify queue overflows (events were lost).
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost")
    scan = wait_for(lambda: [e for e in run.scans_after_ready() if "overflow" in e.message],
                    what="a rescan after the overflow", run=run)[0]
    assert scan.report is not None and scan.report.roots == [str(root)]


def test_inotify_watch_limit_falls_back_to_polling(start_watch, reader, root, monkeypatch):
    import samplemind.watch as watch_module

    monkeypatch.setattr(watch_module, "_inotify_watches", lambda: 0)  # as if no watch was added
    run = start_watch(root, poll_interval=0.2)
    assert "inotify watch limit reached" in run.of_kind("ready")[0].message
    path = write_hit(root / "Kicks" / "limited.wav", seconds=0.05)
    wait_for(lambda: reader.get(path), what="the file, by polling", run=run)


def test_symlinked_folder_is_watched_too(start_watch, reader, root, tmp_path):
    elsewhere = tmp_path / "External" / "Pack"
    elsewhere.mkdir(parents=True)
    (root / "Linked").symlink_to(elsewhere, target_is_directory=True)
    run = start_watch(root)

    write_hit(elsewhere / "linked.wav", seconds=0.05)
    wait_for(lambda: reader.get(root / "Linked" / "linked.wav"), what="the linked file", run=run)


def test_a_root_given_as_a_symlink_is_watched(start_watch, reader, root, tmp_path):
    link = tmp_path / "MySamples"
    link.symlink_to(root, target_is_directory=True)
    run = start_watch(link)

    write_hit(root / "Kicks" / "through_link.wav", seconds=0.05)
    # Catalogued under the resolved path, as `samplemind scan LINK` would; found through the link.
    wait_for(lambda: reader.get(link / "Kicks" / "through_link.wav"), what="the file", run=run)


def test_network_filesystems_are_polled(start_watch, root, monkeypatch):
    import samplemind.watch as watch_module

    monkeypatch.setattr(watch_module, "_filesystem_type", lambda path: "nfs4")
    run = start_watch(root, poll_interval=0.2)
    assert "polling: network filesystem nfs4" in run.of_kind("ready")[0].message


def test_a_vanished_root_is_reported_kept_and_watched_again(start_watch, reader, root, tmp_path):
    path = write_hit(root / "Kicks" / "kept.wav", seconds=0.05)
    run = start_watch(root)
    aside = tmp_path / "aside"

    os.rename(root, aside)
    wait_for(lambda: [e for e in run.of_kind("error") if "is gone" in e.message],
             what="the gone root to be reported", run=run)
    assert reader.get(path)  # an unmounted drive must not empty the catalog
    os.rename(aside, root)
    wait_for(lambda: [e for e in run.scans_after_ready() if "is back" in e.message],
             what="the root to be back", run=run)
    added = write_hit(root / "Toms" / "after.wav", seconds=0.05, seed=7)
    wait_for(lambda: reader.get(added), what="a file added after the return", run=run)


def test_a_failed_scan_is_reported_and_watching_goes_on(start_watch, reader, library, root,
                                                        monkeypatch):
    real_scan = library.scan
    calls = {"n": 0}

    def flaky_scan(*args: Any, **kwargs: Any):
        calls["n"] += 1
        if calls["n"] == 2:  # the first scan after the initial one
            raise RuntimeError("disk on fire")
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(library, "scan", flaky_scan)
    run = start_watch(root, max_wait=1.0)
    path = write_hit(root / "Kicks" / "retried.wav", seconds=0.05)
    error = wait_for(lambda: run.of_kind("error"), what="the error event", run=run)[0]
    assert "disk on fire" in error.message
    wait_for(lambda: reader.get(path), what="the retried scan", run=run)


def test_bad_paths_are_refused(library, root):
    with pytest.raises(NotFound):
        watch(library, [root / "missing"])
    with pytest.raises(UsageError):
        watch(library, [write_hit(root / "file.wav", seconds=0.05)])
    with pytest.raises(UsageError):
        watch(library, [])


# -- the watch command ------------------------------------------------------------------


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_watch_command_picks_up_a_new_file_and_stops_on_a_signal(pack_home: Path, pack: Path,
                                                                   signum: int, code: int):
    """Ctrl-C and SIGTERM (between scans, while idle) both stop the watch cleanly."""
    env = dict(os.environ, SAMPLEMIND_HOME=str(pack_home), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "watch", str(pack),
                                "--settle", "0.2", "-f", "jsonl"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        events = []
        deadline = time.monotonic() + CEILING
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line:
                events.append(json.loads(line))
                if events[-1]["kind"] == "ready":
                    break
        assert events and events[-1]["kind"] == "ready"
        write_audio(pack / "Hats" / "hat_new.wav",
                    synth.normalize(synth.hihat(PACK_SR, rng=np.random.default_rng(77))), PACK_SR)
        while time.monotonic() < deadline:
            event = json.loads(process.stdout.readline())
            if event["kind"] == "scan" and event["report"]["added"] == 1:
                break
        else:
            pytest.fail("the new file was not scanned")
        process.send_signal(signum)
        assert process.wait(timeout=30) == code
        stderr = process.stderr.read()
        assert "Stopped watching" in stderr and "Traceback" not in stderr
        rest = [json.loads(line) for line in process.stdout.read().splitlines()]
        assert rest and rest[-1]["kind"] == "stopped" and rest[-1]["message"] == "interrupted"
    finally:
        if process.poll() is None:
            process.kill()
    assert "hat_new.wav" in ls_names(pack_home, "hat_new")
