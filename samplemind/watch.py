"""Watch folders: keep the catalog current while files are added, changed, moved or removed.

Events only say *where* to look. The catalog is brought up to date by ``Library.scan`` on
the watched roots that had events, all in one call: the same code path as
``samplemind scan``, so moves keep their ids (content hash matching, also between two
watched roots), deleted files leave the catalog, and an unchanged file costs one stat.
Whole roots are scanned, not the sub-folders that changed, because the scanned root is
what the catalog records as a sample's root and what file-name hints are read against
(up to three parent folders): a file added while watching gets exactly the record a scan
of its root would give.

Debouncing: a scan runs once no event came for ``quiet`` seconds and no file is still
being written, or at the latest ``max_wait`` seconds after the first unscanned change
(so a long copy shows progress). With inotify a file written to and not yet closed is
still being written; elsewhere (polling, FSEvents) a file counts as being written until
its last event and its mtime are ``settle`` seconds old. A re-check is scheduled for
such files, so they are picked up even when no further event arrives.

Observers (watchdog): inotify on Linux. A root is polled instead when it is on a network
filesystem (changes made by the server or another computer send no inotify event here)
or when inotify cannot watch all its folders (the per-user watch limit, which watchdog
would otherwise hit silently for sub-folders). An inotify queue overflow rescans every
root. A root that disappears (deleted, moved away, drive unmounted) keeps its samples
and is watched again when it comes back.

The observer threads only enqueue; ``Library.scan`` runs on the thread that called
:func:`watch` (the Library is not thread-safe).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import re
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFound, SampleMindError, UsageError
from .library import Library
from .models import ScanReport, versioned
from .scan import ProgressCallback
from .scanner import is_audio_name

TICK = 0.2  # longest wait between checks of the stop event
ROOT_CHECK_EVERY = 2.0  # seconds between checks that every root is still there
POOL_IDLE_SECONDS = 120.0  # analysis workers idle this long are stopped (restarted on demand)
DRAIN_LIMIT = 20_000  # events handled before the loop looks at its deadlines again
OVERFLOW_NOTE = "inotify queue overflowed: events were lost, rescanning everything"

# Filesystems whose changes made elsewhere (the server, another computer, the host of a
# VM) never reach this kernel's inotify: they are polled instead.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
    "lustre", "gpfs", "davfs", "vboxsf", "virtiofs", "fuse.sshfs", "fuse.rclone",
    "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.vmhgfs-fuse", "fuse.smbnetfs",
    "fuse.davfs2",
})


@dataclass
class WatchEvent:
    """What watching did: a scan ran, an error happened, watching is ready or stopped.

    ``paths`` are the folders that changed (for "scan"), the roots (for "ready" and
    "stopped"), or the paths an error is about.
    """

    kind: str  # "scan" | "error" | "ready" | "stopped"
    report: ScanReport | None
    paths: list[str]
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, with schema_version."""
        return versioned(kind=self.kind, paths=list(self.paths),
                         message=self.message,
                         report=self.report.to_json() if self.report is not None else None)


class _Stopped(Exception):
    """Raised from the progress callback to end a scan when the stop event is set."""


@dataclass
class _Place:
    """A real folder that is watched for a root, and the path the catalog knows it by."""

    real: str  # what the observer watches (symlinks resolved)
    shown: str  # the root itself, or the symlink the scanner follows into this folder

    def translate(self, path: str) -> tuple[str, bool]:
        """(the path as the catalog sees it, True when no part of it is hidden)."""
        rest = path[len(self.real):].lstrip(os.sep) if _inside(path, self.real) else ""
        visible = not any(part.startswith(".") for part in rest.split(os.sep) if part)
        return (os.path.join(self.shown, rest) if rest else self.shown), visible


@dataclass
class _Root:
    """A watched root folder, what watches it, and what changed in it since its last scan."""

    path: str
    identity: tuple[int, int] = (0, 0)  # (st_dev, st_ino): a new folder or drive re-watches
    mode: str = ""  # "inotify", "native" (FSEvents, …) or "polling: <why>"
    places: list[_Place] = field(default_factory=list)
    watches: list[tuple[Any, Any]] = field(default_factory=list)  # (observer, ObservedWatch)
    links: set[str] = field(default_factory=set)  # symlinked folders inside, as shown paths
    gone: bool = False
    first: float | None = None  # monotonic time of the oldest unscanned change
    last: float = 0.0  # ... and of the newest
    not_before: float = 0.0  # after a failed scan: no retry before this time
    folders: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    writing: dict[str, float] = field(default_factory=dict)  # real path -> last write
    new_folders: list[str] = field(default_factory=list)  # may hold new symlinked folders

    def touch(self, now: float, folder: str | None = None) -> None:
        if self.first is None:
            self.first = now
        self.last = now
        if folder:
            self.folders.add(folder)

    def shown(self, real_path: str) -> str:
        """A real path as the catalog knows it (through the root or a symlink)."""
        places = [place for place in self.places if _inside(real_path, place.real)]
        if not places:
            return real_path
        return max(places, key=lambda place: len(place.real)).translate(real_path)[0]


@dataclass
class _Change:
    """One filesystem event, as the observer thread hands it over."""

    root: _Root
    place: _Place
    event: Any


@dataclass
class _Note:
    """A warning watchdog logged; an inotify queue overflow means events were lost."""

    overflow: bool
    message: str


class _Forward:
    """Observer-thread side: hands every event to the watching thread, nothing else.

    (watchdog only calls ``dispatch``: no need to import it to subclass its handler.)
    """

    def __init__(self, root: _Root, place: _Place, put: Callable[[object], None]) -> None:
        self.root, self.place, self.put = root, place, put

    def dispatch(self, event: Any) -> None:
        self.put(_Change(self.root, self.place, event))


class _LogBridge(logging.Handler):
    """Turns watchdog's warnings into notes: an overflow rescans, the rest are reported.

    watchdog reconciles its watches after an inotify queue overflow but tells event
    handlers nothing; its log record is the only sign that events were lost.
    """

    def __init__(self, put: Callable[[object], None]) -> None:
        super().__init__(logging.WARNING)
        self.put = put

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must not kill a watchdog thread
            message = str(record.msg)
        self.put(_Note("overflow" in message.lower(), message))


def watch(library: Library, paths: Sequence[str | os.PathLike[str]], *,
          on_event: Callable[[WatchEvent], None] | None = None,
          stop: threading.Event | None = None, quiet: float = 1.0, max_wait: float = 10.0,
          settle: float = 1.0, force_polling: bool = False, poll_interval: float = 2.0,
          progress: ProgressCallback | None = None) -> None:
    """Keep the catalog current for these folders until ``stop`` is set or Ctrl-C.

    Scans every root first, then rescans the roots that change (see the module doc).
    Reports through ``on_event`` (called on this thread). A failed scan is reported as
    an "error" event and watching goes on. KeyboardInterrupt is re-raised after the
    observers are stopped; what was scanned is already committed.
    ``poll_interval`` is the polling period on network filesystems (or with
    ``force_polling``); ``progress`` is passed to every ``Library.scan``.
    """
    if min(quiet, max_wait, settle) < 0 or poll_interval <= 0:
        raise UsageError("quiet, max_wait and settle must be >= 0 and poll_interval > 0")
    _Watcher(library, _roots(paths), on_event=on_event, stop=stop or threading.Event(),
             quiet=quiet, max_wait=max_wait, settle=settle, force_polling=force_polling,
             poll_interval=poll_interval, progress=progress).run()


def _roots(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    roots: list[str] = []
    for raw in paths:
        path = os.path.abspath(os.path.expanduser(os.fspath(raw)))
        if not os.path.exists(path):
            raise NotFound(f"no such folder: {path}")
        if not os.path.isdir(path):
            raise UsageError(f"watch needs folders: {path} is a file (samplemind scan reads files)")
        roots.append(path)
    if not roots:
        raise UsageError("nothing to watch: give at least one folder")
    # A folder inside another watched folder is already covered by it.
    unique = sorted(set(roots))
    return [root for root in unique
            if not any(root != other and _inside(root, other) for other in unique)]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _topmost(folders: Iterable[str]) -> list[str]:
    result: list[str] = []
    for folder in sorted(set(folders)):
        if not result or not _inside(folder, result[-1]):
            result.append(folder)
    return result


class _Watcher:
    """The watching loop: drain events, decide when to scan, scan, report."""

    def __init__(self, library: Library, roots: list[str], *,
                 on_event: Callable[[WatchEvent], None] | None, stop: threading.Event,
                 quiet: float, max_wait: float, settle: float, force_polling: bool,
                 poll_interval: float, progress: ProgressCallback | None) -> None:
        from .analysis.pool import LocalPool

        self.library = library
        self.roots = [_Root(path) for path in roots]
        self.on_event = on_event
        self.stop = stop
        self.quiet, self.max_wait, self.settle = quiet, max_wait, settle
        self.force_polling = force_polling
        self.poll_interval = poll_interval
        self.progress = progress
        self.events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.observers: dict[str, Any] = {}  # "native" / "polling" -> running observer
        # One warm pool for the whole session: a small change costs milliseconds, not a
        # worker start-up. Stopped when idle, so a quiet watch holds no worker processes.
        self.pool = LocalPool(library.jobs, library.timeout)
        self.pool_used = 0.0
        self.recheck: float | None = None  # when a file being written should have settled
        self.next_root_check = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def run(self) -> None:
        bridge = _LogBridge(self.events.put)
        watchdog_log = logging.getLogger("watchdog")
        old_level = watchdog_log.level
        watchdog_log.addHandler(bridge)
        if watchdog_log.getEffectiveLevel() > logging.WARNING:
            watchdog_log.setLevel(logging.WARNING)  # the overflow warning must get through
        # watchdog warns (warnings.warn, from its threads) when a folder tree copied in races
        # its recursive watches; it recovers by itself, and no library noise reaches the terminal.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"watchdog\.")
        interrupted = False
        try:
            self._loop()
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            try:
                self._shutdown()
            finally:
                watchdog_log.removeHandler(bridge)
                watchdog_log.setLevel(old_level)
            self._emit("stopped", None, [root.path for root in self.roots],
                       "interrupted" if interrupted else "stopped", final=True)

    def _shutdown(self) -> None:
        for observer in self.observers.values():
            observer.stop()
        for observer in self.observers.values():
            observer.join(timeout=10)
        self.observers.clear()
        self.pool.close()

    def _emit(self, kind: str, report: ScanReport | None, paths: list[str], message: str = "",
              final: bool = False) -> None:
        if self.on_event is None:
            return
        if final:
            try:  # the last word must not hide the exception that is ending the watch
                self.on_event(WatchEvent(kind, report, paths, message))
            except Exception:  # noqa: BLE001
                pass
            return
        self.on_event(WatchEvent(kind, report, paths, message))

    # -- the loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        # Watch first, then scan: what changes during a long first scan is seen afterwards.
        for root in self.roots:
            if not self._start_root(root):
                root.gone = True
                self._emit("error", None, [root.path], f"cannot watch {root.path}; watching for it")
        now = time.monotonic()
        for root in self.roots:
            root.touch(now)
        self._scan([root for root in self.roots if not root.gone], "initial scan", initial=True)
        if self.stop.is_set():
            return
        modes = ", ".join(f"{root.path} ({root.mode})" for root in self.roots)
        self._emit("ready", None, [root.path for root in self.roots], f"watching {modes}")
        while not self.stop.is_set():
            now = time.monotonic()
            self._drain(min(TICK, self._next_deadline(now) - now))
            now = time.monotonic()
            if now >= self.next_root_check:
                self.next_root_check = now + ROOT_CHECK_EVERY
                self._check_roots()
            due = self._due(time.monotonic())
            if due:
                self._scan(due)
            if self.pool_used and time.monotonic() - self.pool_used > POOL_IDLE_SECONDS:
                self.pool.close()
                self.pool_used = 0.0

    def _drain(self, timeout: float) -> None:
        try:
            item = self.events.get(timeout=timeout) if timeout > 0 else self.events.get_nowait()
        except queue.Empty:
            return
        for _ in range(DRAIN_LIMIT):
            self._take(item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _take(self, item: object) -> None:
        now = time.monotonic()
        if isinstance(item, _Note):
            if item.overflow:  # events were lost: every root may have changed
                for root in self.roots:
                    if OVERFLOW_NOTE not in root.notes:
                        root.notes.append(OVERFLOW_NOTE)
                    root.touch(now)
            else:
                self._emit("error", None, [], f"watcher: {item.message}")
            return
        if isinstance(item, _Change):
            self._take_change(item, now)

    def _take_change(self, change: _Change, now: float) -> None:
        root, place, event = change.root, change.place, change.event
        if root.gone:
            return
        kind = event.event_type
        real_src = os.fsdecode(event.src_path)
        real_dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        src, src_visible = place.translate(real_src)
        dest, dest_visible = place.translate(real_dest) if real_dest else ("", False)
        if event.is_directory:
            if real_src == place.real and kind == "deleted":
                root.touch(now)  # the root (or a linked folder) itself: the root check decides
                return
            if not (src_visible or dest_visible):
                return
            if kind == "created":
                root.new_folders.append(real_src)
                root.touch(now, src)
            elif kind == "moved":
                root.new_folders.append(real_dest)
                root.touch(now, os.path.dirname(src))
                root.touch(now, dest if dest_visible else None)
            elif kind == "deleted":
                root.touch(now, os.path.dirname(src))
            return
        if not self._relevant_file(root, kind, real_src, src, src_visible, real_dest, dest,
                                   dest_visible):
            return
        if kind == "modified" or (kind == "created" and not self._closes(root)):
            root.writing[real_src] = now
        elif kind in ("closed", "deleted", "moved"):
            root.writing.pop(real_src, None)  # complete, or gone from this path
        root.touch(now, os.path.dirname(src) if src_visible else None)
        if real_dest and dest_visible:
            root.touch(now, os.path.dirname(dest))

    def _relevant_file(self, root: _Root, kind: str, real_src: str, src: str, src_visible: bool,
                       real_dest: str, dest: str, dest_visible: bool) -> bool:
        """Whether a file event can change what a scan of the root finds."""
        for real, shown, visible in ((real_src, src, src_visible), (real_dest, dest, dest_visible)):
            if not real or not visible:
                continue
            if is_audio_name(os.path.basename(shown)) or shown in root.links:
                return True
            if kind in ("created", "moved") and os.path.isdir(real):
                root.new_folders.append(real)  # a new symlink to a folder: the scan follows it
                return True
        return False

    def _closes(self, root: _Root) -> bool:
        """Whether this root's observer reports closes (inotify): then a file that was
        written to and not closed is still being written, however long ago it changed."""
        return root.mode == "inotify"

    # -- when to scan -------------------------------------------------------------------

    def _due(self, now: float) -> list[_Root]:
        """The roots to scan now: every changed root once all are quiet and settled, or
        all of them once one has waited max_wait. One call for all, so a move between
        two roots is matched by hash instead of being a removal and an addition."""
        dirty = [root for root in self.roots if root.first is not None and not root.gone]
        self.recheck = None
        if not dirty or any(root.not_before > now for root in dirty):
            return []
        if any(now - root.first >= self.max_wait for root in dirty if root.first is not None):
            return dirty
        for root in dirty:
            if now - root.last < self.quiet or self._unsettled(root, now):
                return []
        return dirty

    def _unsettled(self, root: _Root, now: float) -> bool:
        """True when a file of this root is still being written (and sets the re-check)."""
        wall = time.time()
        busy = False
        for path, written in list(root.writing.items()):
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                root.writing.pop(path, None)  # gone: nothing left to wait for
                continue
            age = wall - mtime if mtime <= wall + 1 else self.settle  # a clock from the future
            if self._closes(root):
                if age < self.max_wait:  # not closed yet; an old one lost its close event
                    busy = True
                    continue
                root.writing.pop(path, None)
                continue
            wait = max(self.settle - (now - written), self.settle - age)
            if wait > 0:
                busy = True
                when = now + wait
                self.recheck = when if self.recheck is None else min(self.recheck, when)
            else:
                root.writing.pop(path, None)
        return busy

    def _next_deadline(self, now: float) -> float:
        """The next moment something may become due (deadlines already past are waiting
        on something else: a file being written, a retry)."""
        deadlines = [self.next_root_check]
        for root in self.roots:
            if root.first is not None and not root.gone:
                deadlines += [root.last + self.quiet, root.first + self.max_wait, root.not_before]
        if self.recheck is not None:
            deadlines.append(self.recheck)
        return min([deadline for deadline in deadlines if deadline > now], default=now + TICK)

    # -- scanning -----------------------------------------------------------------------

    def _scan(self, roots: list[_Root], note: str = "", initial: bool = False) -> None:
        self._check_roots()  # a root that vanished is reported as gone, not as a failed scan
        for root in roots:
            self._watch_new_links(root)
        roots = [root for root in roots if not root.gone]
        if not roots:
            return
        paths = [root.path for root in roots]
        folders = paths if initial else _topmost(f for root in roots for f in root.folders) or paths
        notes = [note] if note else []
        for root in roots:
            notes += [text for text in root.notes if text not in notes]
            # Reset before scanning: what changes during the scan is seen in the next round.
            root.first, root.folders, root.notes, root.not_before = None, set(), [], 0.0
        try:
            report = self.library.scan(paths, progress=self._progress, executor=self.pool)
        except _Stopped:
            return
        except Exception as exc:  # noqa: BLE001 - one failed scan must not end the watch
            message = str(exc) if isinstance(exc, SampleMindError) else f"{type(exc).__name__}: {exc}"
            now = time.monotonic()
            for root in roots:  # try again later, not in a tight loop
                root.touch(now)
                root.not_before = now + max(self.max_wait, self.quiet, 1.0)
            self._emit("error", None, paths, f"scan failed: {message}")
            return
        finally:
            self.pool_used = time.monotonic()
        self._emit("scan", report, folders, "; ".join(notes))

    def _progress(self, done: int, total: int, path: str, phase: str) -> None:
        if self.stop.is_set():
            raise _Stopped
        if self.progress is not None:
            self.progress(done, total, path, phase)

    # -- roots and watches --------------------------------------------------------------

    def _start_root(self, root: _Root) -> bool:
        """Watch a root (and the folders linked into it); False when it is not there."""
        try:
            info = os.stat(root.path)
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            return False
        root.identity = (info.st_dev, info.st_ino)
        real = os.path.realpath(root.path)
        root.places, root.links = [_Place(real, root.path)], set()
        others = [place.real for other in self.roots if other is not root for place in other.places]
        root.places += self._link_places(root, [real], [real, *others])
        reason = "asked for" if self.force_polling else _network_reason(real)
        if reason is None:
            try:
                wanted = sum(_count_folders(place.real) for place in root.places)
                before = _inotify_watches()
                self._schedule(root, root.places, "native")
                root.mode = "inotify" if _is_inotify(self.observers["native"]) else "native"
                reason = self._missing_watches(root, before, wanted)
                if reason is None:
                    return True
            except OSError as exc:
                reason = ("inotify watch limit reached" if exc.errno == errno.ENOSPC
                          else f"native watching failed: {exc.strerror or exc}")
            self._unschedule(root)
        try:
            self._schedule(root, root.places, "polling")
        except OSError:
            self._unschedule(root)
            return False
        root.mode = f"polling: {reason}"
        return True

    def _schedule(self, root: _Root, places: list[_Place], kind: str) -> None:
        from watchdog import events as ev

        observer = self.observers.get(kind)
        if observer is None:
            if kind == "polling":
                from watchdog.observers.polling import PollingObserver
                observer = PollingObserver(timeout=self.poll_interval)
            else:
                from watchdog.observers import Observer
                observer = Observer()
            observer.start()
            self.observers[kind] = observer
        # Opened and closed-without-writing events are left out: hashing and analysing
        # the files would otherwise trigger the next scan, forever.
        wanted = [ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileDeletedEvent,
                  ev.FileMovedEvent, ev.FileClosedEvent, ev.FileAttribEvent,
                  ev.DirCreatedEvent, ev.DirDeletedEvent, ev.DirMovedEvent]
        for place in places:
            watch = observer.schedule(_Forward(root, place, self.events.put), place.real,
                                      recursive=True, event_filter=wanted)
            root.watches.append((observer, watch))

    def _unschedule(self, root: _Root) -> None:
        for observer, watch in root.watches:
            try:
                observer.unschedule(watch)
            except Exception:  # noqa: BLE001 - already gone with its folder
                pass
        root.watches = []

    def _missing_watches(self, root: _Root, before: int | None, wanted: int) -> str | None:
        """Why inotify misses folders of this root, or None when every folder is watched.

        watchdog ignores a failure to watch a sub-folder (the watch limit, usually), which
        would leave it silently unwatched: count the kernel's watches to find out.
        """
        after = _inotify_watches()
        if root.mode != "inotify" or before is None or after is None:
            return None
        added = after - before
        if added >= wanted or added >= sum(_count_folders(p.real) for p in root.places):
            return None  # (the second count forgives folders deleted meanwhile)
        limit = _read_int("/proc/sys/fs/inotify/max_user_watches")
        return ("inotify watch limit reached"
                + (f" (fs.inotify.max_user_watches = {limit}; raise it for instant updates)"
                   if limit else ""))

    def _link_places(self, root: _Root, tops: list[str], known: list[str]) -> list[_Place]:
        """Folders linked (by symlink) into tops that are not watched yet: the scanner
        follows symlinked folders, so they are watched too."""
        places: list[_Place] = []
        for top in tops:
            for link, real in _linked_folders(top):
                shown = root.shown(link)
                root.links.add(shown)
                if any(_inside(real, other) for other in known):
                    continue
                known.append(real)
                places.append(_Place(real, shown))
        return places

    def _watch_new_links(self, root: _Root) -> None:
        """Watch folders that new symlinks (or new folders with symlinks inside) brought in."""
        tops, root.new_folders = root.new_folders, []
        tops = [top for top in tops if os.path.isdir(top)]
        if not tops or not root.watches:
            return
        known = [place.real for other in self.roots for place in other.places]
        places = self._link_places(root, tops, known)
        if not places:
            return
        root.places += places
        try:
            self._schedule(root, places, "polling" if root.mode.startswith("polling") else "native")
        except OSError as exc:
            self._emit("error", None, [place.shown for place in places],
                       f"cannot watch linked folders: {exc.strerror or exc}")

    def _check_roots(self) -> None:
        """Notice roots that went away (deleted, moved, unmounted) and came back."""
        for root in self.roots:
            try:
                info: os.stat_result | None = os.stat(root.path)
            except OSError:
                info = None
            if info is not None and not stat.S_ISDIR(info.st_mode):
                info = None
            if info is not None and (info.st_dev, info.st_ino) == root.identity and not root.gone:
                continue
            # An empty folder on another device is the mount point a drive left behind:
            # that is gone. A new folder, or a drive mounted here, is watched afresh.
            if info is not None and (info.st_dev == root.identity[0] or _has_entries(root.path)):
                self._unschedule(root)
                was_gone, root.gone = root.gone, False
                if self._start_root(root):
                    root.touch(time.monotonic())
                    root.notes.append(f"{root.path} is back" if was_gone
                                      else f"{root.path} was replaced: rescanning it")
                    continue
            if not root.gone:
                root.gone = True
                root.first, root.folders, root.writing = None, set(), {}
                self._unschedule(root)
                self._emit("error", None, [root.path],
                           f"{root.path} is gone (deleted, moved or unmounted): its samples stay "
                           f"in the catalog; watching for it to come back")


# -- filesystem facts ---------------------------------------------------------------------


def _is_inotify(observer: Any) -> bool:
    return type(observer).__name__ == "InotifyObserver"


def _linked_folders(top: str) -> list[tuple[str, str]]:
    """(link, real folder) for the symlinked folders the scanner would follow under top."""
    found: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if not entry.is_dir():  # follows symlinks; free (d_type) for plain folders
                    continue
                info = entry.stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue  # a loop, or a folder reached twice
            seen.add((info.st_dev, info.st_ino))
            if entry.is_symlink():
                found.append((entry.path, os.path.realpath(entry.path)))
            stack.append(entry.path)
    return found


def _count_folders(top: str) -> int:
    """Folders under top (itself included) that inotify should watch: links not followed."""
    return sum(1 for _ in os.walk(top))


def _inotify_watches() -> int | None:
    """How many inotify watches this process holds (from /proc), or None if unknown."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    total = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                total += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:
            continue
    return total


def _read_int(path: str) -> int | None:
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _has_entries(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False


def _network_reason(path: str) -> str | None:
    """Why this folder must be polled (a network filesystem), or None."""
    fstype = _filesystem_type(path)
    if fstype in NETWORK_FILESYSTEMS:
        return f"network filesystem {fstype}: changes made on other machines send no events"
    return None


def _filesystem_type(path: str) -> str | None:
    """The type of the filesystem holding path, from /proc/self/mounts (Linux)."""
    try:
        with open("/proc/self/mounts") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return None
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        if _inside(path, point) and len(point) >= len(best):
            best, best_type = point, fields[2]
    return best_type
