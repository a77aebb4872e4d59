"""The scan pipeline: what ``Library.scan`` runs (ARCHITECTURE.md: "Layers and the one-way data flow").

One direction, one stage after another::

    walk roots ─▶ change detection (size + mtime against the catalog) ─▶ hash what changed
      ─▶ moved? keep the id ─▶ feature cache ─hit─┐
      ─miss─▶ executor (local pool or Dask) ──────┤
                                                  ▼
      batched catalog commits ─▶ removals ─▶ post-scan steps (categories, statistics, index)

Only this process writes the catalog and the cache; the executor's workers compute and
return plain data. Helpers here receive what they use (the catalog, the cache, the index),
never the whole Library.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .analysis.versions import analysis_version
from .catalog import Catalog, FailureState, FileState, now_iso
from .models import FileFailure, ScanReport
from .roots import merge_sample, reached_from
from .scanner import FileEntry, hash_file, walk

if TYPE_CHECKING:
    from .analysis.executors import AnalysisExecutor
    from .cache import FeatureCache
    from .similarity.manager import IndexManager

# progress(done, total, current_path, phase): phase is "hashing" (changed and new files
# are read once to find moves and cache hits) then "analysing"; from the scanning thread.
ProgressCallback = Callable[[int, int, str, str], None]

COMMIT_EVERY_SECONDS = 0.5
COMMIT_EVERY_ROWS = 256


@dataclass
class Pending:
    """A file that needs its analysis (from the cache or the pool)."""

    entry: FileEntry
    root: str
    digest: str
    sample_id: int | None  # set when the file is already catalogued (changed content)
    new_id: int | None = None  # a new file's id, given in path order (number_new_files)


@dataclass
class Walked:
    """What the walk found under the roots, next to what the catalog knew of them."""

    entries: list[tuple[FileEntry, str]] = field(default_factory=list)  # (file, its root)
    known: dict[str, FileState] = field(default_factory=dict)  # catalogued files by path
    failed_before: dict[str, FailureState] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # folder prefixes the walk could not read
    seen_paths: set[str] = field(default_factory=set)  # the paths of entries


class ScanInterrupted(KeyboardInterrupt):
    """A scan stopped by Ctrl-C (SIGINT) or SIGTERM. What was analysed is kept (committed, and
    in the feature cache): scanning again resumes. ``report`` says what the scan did until
    then (``interrupted`` is True); ``signum`` is the signal. A KeyboardInterrupt, so code
    that stops on Ctrl-C stops on it the same way."""

    def __init__(self, report: ScanReport, signum: int = signal.SIGINT) -> None:
        super().__init__(f"scan interrupted by {signal.Signals(signum).name}")
        self.report = report
        self.signum = signum


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread, where Ctrl-C's KeyboardInterrupt would be."""

    signum = signal.SIGTERM


@contextmanager
def sigterm_stops_like_ctrl_c() -> Iterator[None]:
    """While a scan runs, SIGTERM stops it the way Ctrl-C does (the batch in hand committed,
    the workers stopped and their semaphores released) instead of killing the process on the
    spot. Only in the main thread, and only where nobody installed a SIGTERM handler of
    their own (the server's event loop, an application's): theirs is left alone."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the clean-up finish
        raise _Terminated()

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def number_new_files(catalog: Catalog, pending: list[Pending]) -> None:
    """Give the new files of one scan their ids up front, in path order after the highest
    id so far: analysis finishes in any order, and the same library scanned twice (or into
    a fresh catalog) should number its files the same. A file that fails leaves its number
    unused; an id another writer took meanwhile is not reused (Catalog.insert_sample)."""
    new = sorted((item for item in pending if item.sample_id is None),
                 key=lambda item: item.entry.path)
    first = catalog.next_sample_id()
    for offset, item in enumerate(new):
        item.new_id = first + offset


class BatchWriter:
    """Groups catalog writes into short transactions so a kill loses at most a moment."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.ops: list[Callable[[], None]] = []
        self.last_commit = time.monotonic()

    def add(self, op: Callable[[], None]) -> None:
        self.ops.append(op)
        if len(self.ops) >= COMMIT_EVERY_ROWS:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        if time.monotonic() - self.last_commit >= COMMIT_EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        ops, self.ops = self.ops, []  # a failed batch is not replayed by a later flush
        if ops:
            with self.catalog.transaction():
                for op in ops:
                    op()
        self.last_commit = time.monotonic()


class ScanPipeline:
    """One scan of some roots. ``cache`` and ``index`` are called only when a stage needs
    them, so a scan that finds nothing changed opens neither (it stays at milliseconds)."""

    def __init__(self, catalog: Catalog, *, cache: Callable[[], FeatureCache],
                 index: Callable[[], IndexManager], jobs: int, timeout: float,
                 progress: ProgressCallback | None = None, retry_failed: bool = False,
                 executor: AnalysisExecutor | None = None) -> None:
        self.catalog = catalog
        self._cache_of = cache
        self._index_of = index
        self.jobs = jobs
        self.timeout = timeout
        self.progress = progress
        self.retry_failed = retry_failed
        self.executor = executor
        self.report = ScanReport()
        self.writer = BatchWriter(catalog)
        self.cache_used: FeatureCache | None = None
        self.missing: dict[str, FileState] = {}  # catalogued, not seen on disk, not moved
        self.stamp_roots: list[str] = []  # roots scanned before: stamped without a new generation

    @property
    def cache(self) -> FeatureCache:
        if self.cache_used is None:
            self.cache_used = self._cache_of()
        return self.cache_used

    def run(self, roots: list[str]) -> ScanReport:
        """Every stage, then the post-scan steps; the report says what happened."""
        from .roots import adopt_alias_roots, forget_refused_roots

        started = time.perf_counter()
        report = self.report
        report.roots = roots
        report.removed += adopt_alias_roots(self.catalog)  # catalogs from before resolved roots
        forget_refused_roots(self.catalog)  # roots an older version took: /dev/null, a text file
        try:
            with sigterm_stops_like_ctrl_c():
                try:
                    walked = self.walk(roots)
                    to_hash = self.detect_changes(walked)
                    pending = self.hash_and_match(walked, to_hash)
                    self.analyse(pending)
                    self.remove_missing(walked, roots)
                finally:
                    self.writer.flush()
        except KeyboardInterrupt as stopped:
            report.interrupted = True
            report.seconds = round(time.perf_counter() - started, 3)
            raise ScanInterrupted(report, getattr(stopped, "signum", signal.SIGINT)) from None
        if self.stamp_roots:
            with self.catalog.transaction(bump=False):  # bookkeeping: nothing derives from it
                for root in self.stamp_roots:
                    self.catalog.note_root(root)
        if self.cache_used is not None and self.cache_used.problem:  # once, however many files
            report.warnings.append(FileFailure(str(self.cache_used.directory), (
                f"{self.cache_used.problem}; files were analysed without it (fix: samplemind "
                "cache clear)")))
        self.after_scan()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    # -- walk and change detection --------------------------------------------------------

    def walk(self, roots: list[str]) -> Walked:
        """Every audio file under the roots, and what the catalog knew of them."""
        walked = Walked()
        said: set[tuple[str, str]] = set()

        def skipped(path: str, reason: str) -> None:
            if (path, reason) in said:  # overlapping roots walk a folder twice: say it once
                return
            said.add((path, reason))
            self.report.skipped += 1
            self.report.warnings.append(FileFailure(path, reason))
            if os.path.isdir(path) or not os.path.exists(path):
                walked.unreadable.append(path.rstrip("/") + "/")

        # A symlink whose target a root's walk reaches under its real path is not followed:
        # the file is catalogued once, under that path (roots.reached_from).
        covered = list(dict.fromkeys([*roots, *(row[0] for row in self.catalog.query(
            "SELECT path FROM roots"))]))

        def reached_elsewhere(real: str, is_folder: bool) -> bool:
            return reached_from(real, is_folder, covered)

        for root in roots:
            # A folder's prefix covers its files; a file named directly covers itself.
            walked.known.update(self.catalog.file_states(
                root, folder=os.path.isdir(root), current_version=analysis_version()))
            walked.failed_before.update(self.catalog.failure_states(root,
                                                                    folder=os.path.isdir(root)))
            for entry in walk(root, on_skip=skipped, reached_elsewhere=reached_elsewhere):
                walked.entries.append((entry, root))
        # Overlapping roots (a folder and its sub-folder) must not yield a file twice.
        walked.entries = list({entry.path: (entry, root)
                               for entry, root in walked.entries}.values())
        walked.seen_paths = {entry.path for entry, _ in walked.entries}
        self.report.seen = len(walked.entries)
        return walked

    def detect_changes(self, walked: Walked) -> list[tuple[FileEntry, str]]:
        """The files to hash: new, or changed in size or mtime, or analysed by another
        extractor version. A file that failed before and did not change is reported again
        without being read (unless retry_failed)."""
        report = self.report
        to_hash: list[tuple[FileEntry, str]] = []
        for entry, root in walked.entries:
            state = walked.known.get(entry.path)
            if (state and state.current and state.size == entry.size
                    and state.mtime_ns == entry.mtime_ns):
                report.unchanged += 1
                continue
            failure = walked.failed_before.get(entry.path)
            if (failure and not self.retry_failed
                    and failure.size == entry.size and failure.mtime_ns == entry.mtime_ns):
                # Failed before and unchanged since: report it, don't pay for it again.
                report.failed += 1
                report.failures.append(FileFailure(entry.path, failure.error))
                continue
            to_hash.append((entry, root))
        return to_hash

    # -- hashing and moves ----------------------------------------------------------------

    def hash_and_match(self, walked: Walked,
                       to_hash: list[tuple[FileEntry, str]]) -> list[Pending]:
        """Hash what changed: same bytes at the same path is a touch, a catalogued file's
        bytes at a new path a move (id, tags and analysis kept); the rest needs analysis."""
        report = self.report
        # Catalogued files not seen on disk: moved away (matched by hash below) or removed.
        # A folder that could not be read says nothing about its files: keep them.
        self.missing = {path: state for path, state in walked.known.items()
                        if path not in walked.seen_paths
                        and not path.startswith(tuple(walked.unreadable))}
        missing_by_hash: dict[str, list[str]] = {}
        for path, state in self.missing.items():
            missing_by_hash.setdefault(state.hash, []).append(path)

        pending: list[Pending] = []
        claimed: set[int] = set()  # catalog ids already matched to a moved file
        with ThreadPoolExecutor(max_workers=4) as hashers:  # hashlib releases the GIL
            digests = hashers.map(lambda item: _safe_hash(item[0].path), to_hash)
            for (entry, root), digest in zip(to_hash, digests):
                report.hashed += 1
                if self.progress:
                    self.progress(report.hashed, len(to_hash), entry.path, "hashing")
                if isinstance(digest, OSError):
                    self.fail(entry, root, f"cannot read the file: {digest.strerror or digest}")
                    continue
                state = walked.known.get(entry.path)
                if state:
                    if state.hash == digest and state.current:  # touched, same bytes
                        self.writer.add(lambda s=state, e=entry: self.catalog.update_sample(
                            s.id, {"size": e.size, "mtime_ns": e.mtime_ns}))
                        report.unchanged += 1
                    else:
                        pending.append(Pending(entry, root, digest, state.id))
                    continue
                sample_id = self._moved_from(digest, missing_by_hash, claimed, entry.path)
                if sample_id is not None:
                    self.writer.add(lambda i=sample_id, e=entry, r=root: self._apply_move(i, e, r))
                    report.moved += 1
                    continue
                pending.append(Pending(entry, root, digest, None))
        return pending

    def _moved_from(self, digest: str, missing_by_hash: dict[str, list[str]],
                    claimed: set[int], new_path: str) -> int | None:
        """The id of a catalogued file with these bytes that is gone from its path, if any.

        First among the scanned roots; then anywhere in the catalog, so a renamed root
        or a move between roots keeps ids and tags. A row whose path still leads, through
        links, to this very path (a symlinked folder it was reached through) is this file
        too: it takes the real path, and keeps its id and tags.
        """
        paths = missing_by_hash.get(digest)
        if paths:
            sample_id = self.missing.pop(paths.pop()).id
            claimed.add(sample_id)
            return sample_id
        for sample_id, path in self.catalog.ids_by_hash(digest):
            if sample_id not in claimed and (not os.path.exists(path)
                                             or _leads_to(path, new_path)):
                claimed.add(sample_id)
                return sample_id
        return None

    def _apply_move(self, sample_id: int, entry: FileEntry, root: str) -> None:
        """A known file at a new path: keep its id, tags and analysis; re-read its name."""
        self.catalog.update_sample(sample_id, {
            "path": entry.path, "root": root, "name": os.path.basename(entry.path),
            "size": entry.size, "mtime_ns": entry.mtime_ns, "scanned_at": now_iso()})
        re_resolve(self.catalog, sample_id)

    # -- cache and executor ---------------------------------------------------------------

    def analyse(self, pending: list[Pending]) -> None:
        """Analysis for each pending file: from the feature cache, else from the executor."""
        if not pending:
            return
        from .analysis.backends import open_executor
        from .analysis.executors import AnalysisJob

        report, progress = self.report, self.progress
        version = analysis_version()
        number_new_files(self.catalog, pending)
        total = len(pending)
        done = 0
        # Files with the same bytes (copies in several packs) are analysed once.
        misses: dict[str, list[Pending]] = {}
        for item in pending:
            if item.digest in misses:
                misses[item.digest].append(item)
                continue
            cached = self.cache.get(item.digest, version)
            if cached is None:
                misses[item.digest] = [item]
                continue
            report.cache_hits += 1
            self._store(item, cached, version)
            done += 1
            if progress:
                progress(done, total, item.entry.path, "analysing")
        if not misses:
            return
        own_pool = self.executor is None
        # The local pool, or a Dask cluster when SAMPLEMIND_CLUSTER names one: this loop
        # cannot tell them apart (analysis/backends.py).
        pool = self.executor or open_executor(self.jobs, self.timeout)
        by_path = {items[0].entry.path: items for items in misses.values()}
        try:
            jobs = [AnalysisJob(items[0].entry.path, items[0].entry.size)
                    for items in misses.values()]
            for outcome in pool.analyse(jobs):
                if outcome is None:  # heartbeat: a slow file holds the pool; commit meanwhile
                    self.writer.flush_if_due()
                    continue
                path, result, error = outcome
                items = by_path.pop(path)
                if result is not None:
                    report.analysed += 1
                    # Cache first: a kill before the next commit still loses no analysis.
                    self.cache.put(items[0].digest, version, result)
                for item in items:
                    done += 1
                    if result is None:
                        self.fail(item.entry, item.root, error or "unknown error")
                    else:
                        self._store(item, result, version)
                    if progress:
                        progress(done, total, item.entry.path, "analysing")
        finally:
            if own_pool:
                pool.close()

    # -- commit ---------------------------------------------------------------------------

    def _store(self, item: Pending, result: dict[str, Any], version: str) -> None:
        self.report.audio_seconds += float(result["features"].get("duration") or 0.0)
        if item.sample_id is None:
            self.report.added += 1
        else:
            self.report.updated += 1
        self.writer.add(lambda: self._write_analysis(item, result, version))

    def _write_analysis(self, item: Pending, result: dict[str, Any], version: str) -> None:
        import numpy as np

        features, embedded = result["features"], result["embedded"]
        row = resolved_columns(self.catalog, features, embedded, item.entry.path, item.root,
                               item.sample_id)
        stamp = now_iso()
        stored = {key: value for key, value in features.items() if key not in ("vector", "peaks")}
        row.update(
            path=item.entry.path, root=item.root, name=os.path.basename(item.entry.path),
            size=item.entry.size, mtime_ns=item.entry.mtime_ns, hash=item.digest,
            analysis=json.dumps({"features": stored, "embedded": embedded}),
            vector=np.asarray(features.get("vector") or [], dtype=np.float32).tobytes(),
            peaks=np.asarray(features.get("peaks") or [], dtype=np.float32).tobytes(),
            extractor_version=version, analysed_at=stamp, scanned_at=stamp,
            vector_generation=self.catalog.next_generation,
        )
        if item.sample_id is None:
            sample_id = self.catalog.insert_sample({"id": item.new_id, **row})
        else:
            sample_id = item.sample_id
            self.catalog.update_sample(sample_id, row)
        self.catalog.set_tags(sample_id, embedded.get("tags") or [], "metadata")
        self.catalog.clear_failures([item.entry.path])

    def fail(self, entry: FileEntry, root: str, error: str) -> None:
        """Record a file's failure (reported now, remembered for the next scan)."""
        self.report.failed += 1
        self.report.failures.append(FileFailure(entry.path, error))
        self.writer.add(lambda: self.catalog.record_failure(entry.path, root, entry.size,
                                                            entry.mtime_ns, error))

    def remove_missing(self, walked: Walked, roots: list[str]) -> None:
        """Catalogued files gone from disk (and not moved) go; failures of files that are
        gone are forgotten; the roots are noted as scanned."""
        self._keep_reachable(walked, roots)
        if self.missing:
            ids = [state.id for state in self.missing.values()]
            self.writer.add(lambda: self.catalog.delete_samples(ids))
            self.report.removed += len(ids)
        gone_failures = [path for path in walked.failed_before if path not in walked.seen_paths]
        if gone_failures:
            self.writer.add(lambda: self.catalog.clear_failures(gone_failures))
        # A root scanned before is only stamped, after the scan, without moving the
        # generation: a scan that found nothing new must not look like a change to every
        # follower (index sidecar, server caches, map), whatever the library's size.
        known = {row[0] for row in self.catalog.query("SELECT path FROM roots")}
        for root in roots:
            if root in known:
                self.stamp_roots.append(root)
            else:
                self.writer.add(lambda r=root: self.catalog.note_root(r))

    def _keep_reachable(self, walked: Walked, roots: list[str]) -> None:
        """A catalogued path the walk did not yield, but whose file is still there (reached
        another way now: a symlinked folder no longer followed, a second link), is never
        simply dropped with its tags and corrections. It is merged into the row of the same
        file (its user tags and corrections copied there), or takes the file's real path
        when that lies in a root, or else is kept as it is."""
        if not self.missing:
            return
        by_identity = {entry.identity: entry.path for entry, _ in walked.entries
                       if entry.identity is not None}
        covered = list(dict.fromkeys([*roots, *(row[0] for row in self.catalog.query(
            "SELECT path FROM roots"))]))
        for path, state in list(self.missing.items()):
            try:
                info = os.stat(path)
            except OSError:
                continue  # gone: removed as usual
            if not stat.S_ISREG(info.st_mode):
                continue  # a folder, FIFO or device in its place: not this file any more
            del self.missing[path]
            same = by_identity.get((info.st_dev, info.st_ino))
            real = os.path.realpath(path)
            if same is None and real != path and reached_from(real, False, covered):
                same = real
            if same is None:
                continue  # the file is there and nothing else holds it: keep the row
            root = max((r for r in covered if real == r or real.startswith(r.rstrip("/") + "/")),
                       key=len, default=None)
            self.writer.add(lambda s=state, t=same, r=root: self._fold_into(s.id, t, r))

    def _fold_into(self, sample_id: int, path: str, root: str | None) -> None:
        """Sample sample_id's file is catalogued (or is to be) at path: merge or re-path."""
        twin = self.catalog.scalar("SELECT id FROM samples WHERE path = ?", [path])
        if twin is not None and twin != sample_id:
            merge_sample(self.catalog, twin, sample_id)
            self.catalog.delete_samples([sample_id])
            self.report.removed += 1  # a duplicate row, not a file: its tags live on
        elif twin is None and root is not None:
            self.catalog.update_sample(sample_id, {"path": path, "root": root,
                                                   "name": os.path.basename(path)})
            re_resolve(self.catalog, sample_id)

    # -- post-scan steps ------------------------------------------------------------------

    def after_scan(self) -> None:
        """After a scan that changed something: categories from neighbours, fresh planner
        statistics. After one that changed nothing: a saved index brought up to date now,
        so the next search starts at once (without reading it when no vector changed)."""
        report = self.report
        if report.added or report.updated or report.moved or report.removed:
            refine_categories(self.catalog, self._index_of(), report)
            self.catalog.update_statistics()
        else:
            index = self._index_of()
            if (index.folder / "index.json").exists():
                index.refresh_saved(self.catalog)


def refine_categories(catalog: Catalog, index: IndexManager, report: ScanReport) -> None:
    """Sound-only categories hear their nearest sounds too (similarity/consensus.py), then
    unnamed one-shots take the category their named neighbours vote for (when surer than
    the sound's guess). Never fails the scan: both are refinements (their trouble becomes
    a warning in the report)."""
    from .similarity.consensus import agree
    from .similarity.teach import departed_sounds, teach_categories

    asked: list[int] = []
    departed = departed_sounds(catalog)  # before the consensus prunes the removal log
    try:
        agreed = agree(catalog, index.current)
        report.agreed, asked = agreed.changed, agreed.asked
    except Exception as exc:  # a damaged index or a busy catalog: the scan stands
        report.warnings.append(FileFailure(catalog.path.name,
                                           f"categories from nearest sounds skipped: {exc}"))
    try:
        report.taught = teach_categories(catalog, index.current, also=asked,
                                         departed=departed).changed
    except Exception as exc:  # a damaged index or a busy catalog: the scan stands
        report.warnings.append(FileFailure(catalog.path.name,
                                           f"categories from named neighbours skipped: {exc}"))


def re_resolve(catalog: Catalog, sample_id: int) -> None:
    """Recompute the resolved fields of one sample from its stored analysis (after a move,
    a correction or an undo)."""
    row = catalog.full_row(sample_id)
    if row is None:
        return
    stored = json.loads(row["analysis"] or "{}")
    columns = resolved_columns(catalog, stored.get("features", {}), stored.get("embedded", {}),
                               row["path"], row["root"], sample_id)
    if columns["category_source"] == "dsp" and row["category_source"] in ("dsp", "library"):
        # Still only the sound to go by, and the same sound: what its nearest sounds and
        # named neighbours made of it after the last scan stands (consensus.py, teach.py).
        columns.update(category=row["category"], category_source=row["category_source"],
                       category_confidence=row["category_confidence"])
    catalog.update_sample(sample_id, columns)


def resolved_columns(catalog: Catalog, features: dict[str, Any], embedded: dict[str, Any],
                     path: str, root: str, sample_id: int | None) -> dict[str, Any]:
    """Catalog columns from every source of evidence (analysis, metadata, names, user)."""
    from .analysis.resolve import resolve

    overrides = catalog.overrides(sample_id) if sample_id else {}
    row = resolve(features, embedded, _hints(path, root), overrides)
    row["bpm_alternatives"] = json.dumps(row["bpm_alternatives"])
    row["warnings"] = json.dumps(row["warnings"]) if row["warnings"] else None
    return row


def resolve_roots(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The roots a scan of these paths covers: absolute, resolved (a symlinked or aliased
    path is the same root, roots.py), each once. Raises UsageError for none, for a path that
    is not valid UTF-8 and for one that may not be a root (roots.check_root: only folders
    and audio files), NotFound for a path that does not exist."""
    from .errors import UsageError
    from .roots import check_root, resolve_root, user_path

    typed = [user_path(p) for p in paths]
    if not typed:
        raise UsageError("nothing to scan: give at least one folder")
    # Each must be a folder or an audio file (roots.check_root), checked before anything is
    # walked or stored: a root widens what the server may scan and serve.
    return list(dict.fromkeys(check_root(user_path(resolve_root(root))) for root in typed))


def _hints(path: str, root: str) -> dict[str, Any]:
    """Hints from the names within the scanned root (its own name included, nothing above)."""
    from .analysis.names import filename_hints

    # A folder root keeps its own name; a file named directly keeps its folder's name.
    top = root.rstrip("/") if os.path.isdir(root) else os.path.dirname(path)
    base = os.path.dirname(top)
    return filename_hints(os.path.relpath(path, base))


def _leads_to(path: str, real: str) -> bool:
    """Whether path is another spelling (through links) of the real path `real`. Not a hard
    link: that is a file of its own at its own real path, reached by its own root."""
    return path != real and os.path.realpath(path) == real


def _safe_hash(path: str) -> str | OSError:
    try:
        return hash_file(path)
    except OSError as error:
        return error
