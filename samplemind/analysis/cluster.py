"""Analysis on a Dask distributed cluster, behind the same interface as the local pool.

The parent (the scan) keeps everything but the analysis: walking, change detection,
cache look-ups and every catalog, cache and index write. A Dask task analyses one
batch of files and returns plain data.

Inside each Dask worker the analysis runs in a pebble pool of its own (one process
per worker thread, forked from a server that imported Essentia), exactly like the
local pool: a file that crashes the decoder or hangs costs that process, never the
Dask worker, and per-file timeouts are enforced where the file runs. A Dask worker
that dies anyway (a machine lost, the OOM killer) has its batches rescheduled by Dask;
a batch that keeps killing workers fails as KilledWorker and is split like a crashed
batch, so only the guilty file fails. A lost scheduler ends the analysis with
ClusterError; what finished was already handed to the scan, which keeps it.

Files reach the workers by path when they share the storage (with ``path_map``
prefixes when they mount it elsewhere), otherwise their bytes are shipped: "auto"
asks every worker whether it sees a sample of the files (same path, same size).

On connect, every worker reports its samplemind, Essentia and analysis versions;
any difference is one ClusterError before any work is sent (and a worker that joins
later with other versions ends the scan the same way, from its first task).
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import multiprocessing
import os
import platform
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from ..errors import ClusterError, UsageError
from .backends import SETTING_WORDS
from .executors import AnalysisJob, BatchExecutor, BatchFailed
from .pool import batch_outcomes, start_process_pool
from .versions import analysis_version
from .worker import Outcome, analyse_batch

COMPARED = ("samplemind", "essentia", "analysis")  # must match between parent and workers
PROBE_FILES = 8  # files checked on every worker to decide between paths and bytes
SLOTS_REFRESH_SECONDS = 2.0
CLOSE_TIMEOUT_SECONDS = 5.0
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
RESEND_ROUNDS = 3  # a batch whose result is lost (with its worker) runs again this often
SINGLE_FILE_ROUNDS = 2  # a file alone whose workers keep dying: Dask's tries, this many times


# -- both sides -----------------------------------------------------------------------------


def environment() -> dict[str, str]:
    """The versions that decide an analysis result, in this process."""
    import samplemind

    return {"samplemind": samplemind.__version__, "essentia": _essentia_version(),
            "analysis": analysis_version(), "python": platform.python_version()}


@functools.cache  # asked on every batch; it cannot change under a running process
def _essentia_version() -> str:
    for name in ("essentia", "essentia-tensorflow"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    try:  # a build without package metadata
        import essentia

        return str(essentia.__version__)
    except ImportError:
        return "not installed"


def _differences(theirs: dict[str, str], ours: dict[str, str]) -> list[str]:
    return [f"{name} {theirs.get(name)} (here {ours.get(name)})"
            for name in COMPARED if theirs.get(name) != ours.get(name)]


# -- the worker side (runs inside Dask worker processes) ------------------------------------

_pool: Any = None
_pool_lock = threading.Lock()


def _worker_pool(worker: Any) -> Any:
    """This Dask worker's pebble pool (one process per worker thread), started on first use
    and kept warm between scans."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool.active:
            return _pool
        first = _pool is None
        # A Dask nanny starts its worker as a daemonic process, and multiprocessing refuses
        # children to daemons lest they be orphaned. Ours are not: each analysis process
        # dies with this worker (PR_SET_PDEATHSIG in init_worker, and the forkserver exits
        # when its parent does).
        multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (to hand memory back
        # sooner). The analysis allocates and frees large arrays for every file: with it, a
        # file takes twice as long (measured on the benchmark library). The analysis
        # processes start with glibc's own malloc settings instead.
        os.environ.pop(MALLOC_TRIM, None)
        pool = _pool = start_process_pool(_threads_of(worker))
    if first:
        _stop_with(worker)
    return pool


def _stop_pool() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.stop()
        pool.join()


def _stop_with(worker: Any) -> None:
    """Stop the pool when the Dask worker closes: its process would otherwise wait for the
    analysis processes until the nanny gives up on it (4 s) and kills it."""
    from distributed import WorkerPlugin
    from distributed.utils import sync

    class AnalysisPoolCloser(WorkerPlugin):
        def teardown(self, worker: Any) -> None:
            _stop_pool()

    sync(worker.loop, worker.plugin_add, plugin=AnalysisPoolCloser(),
         name="samplemind-analysis-pool")


def _threads_of(dask_worker: Any) -> int:
    state = getattr(dask_worker, "state", None)
    return max(1, int(getattr(state, "nthreads", 0) or getattr(dask_worker, "nthreads", 1) or 1))


async def _warm_up(dask_worker: Any = None) -> None:
    """Start this worker's analysis processes in the background (Essentia takes a second
    to import), so the first batch does not wait for them. (A coroutine: Dask runs only
    those without waiting for them.)"""
    from distributed import get_worker

    worker = dask_worker or get_worker()

    def start() -> None:
        try:
            _worker_pool(worker).schedule(os.getpid)
        except Exception:  # noqa: BLE001 - the first real batch will report the problem
            pass

    threading.Thread(target=start, name="samplemind-warm-up", daemon=True).start()


def _sees_files(checks: list[tuple[str, int]]) -> bool:
    """Does this worker see these files, with these sizes?"""
    try:
        return all(os.path.getsize(path) == size for path, size in checks)
    except OSError:
        return False


def run_batch(paths: list[str], timeout: float, expected: dict[str, str],
              contents: list[bytes | str] | None = None) -> tuple[str, Any]:
    """One Dask task: analyse paths (or, with contents, these bytes under the paths' names).

    Returns ("done", [(result, error), …] in the order of paths), ("failed", reason) when
    the batch crashed or timed out as a whole, or ("mismatch", versions) when this worker
    runs other versions than the parent expects. contents items that are strings are
    errors from the parent (a file it could not read).
    """
    from distributed import get_worker

    mine = environment()
    if _differences(mine, expected):
        return ("mismatch", mine)
    worker = get_worker()
    folder = tempfile.mkdtemp(prefix="samplemind-") if contents is not None else None
    try:
        local: list[str] = []
        errors: dict[int, str] = {}
        for index, path in enumerate(paths):
            if contents is None:
                local.append(path)
                continue
            data = contents[index]
            if isinstance(data, str):
                errors[index] = data
                continue
            # The file's own name, so format sniffing and messages see what the parent sees.
            target = os.path.join(folder, str(index), os.path.basename(path))  # type: ignore[arg-type]
            os.makedirs(os.path.dirname(target))
            with open(target, "wb") as handle:
                handle.write(data)
            local.append(target)
        outcomes: list[Outcome] = []
        if local:
            future = _worker_pool(worker).schedule(analyse_batch, args=(local,), timeout=timeout)
            try:
                outcomes = batch_outcomes(future, timeout)
            except BatchFailed as failure:
                return ("failed", failure.reason)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    results: list[tuple[Any, str | None]] = []
    produced = iter(outcomes)
    for index, path in enumerate(paths):
        if index in errors:
            results.append((None, errors[index]))
            continue
        _, result, error = next(produced)
        if result is None and contents is None and not os.path.exists(path):
            error = unseen_file(worker.address, path)
        results.append((result, error))
    return ("done", results)


def unseen_file(worker: str, path: str) -> str:
    """A file's failure when its worker cannot read it (kept in the catalog as it is)."""
    return (f"not found on the Dask worker {worker} as {path}: do the workers see the files "
            "there? (use a path map LOCAL=REMOTE, or the ship-bytes setting)")


def shipping_notice(blind: int, workers: int) -> str:
    return (f"{blind} of {workers} Dask workers do not see the files: sending their contents "
            "(use a path map LOCAL=REMOTE if they mount them elsewhere)")


# -- the parent side --------------------------------------------------------------------------


def _quiet_distributed_logs() -> None:
    """Dask logs to stderr on its own; our errors say what happened, once."""
    for name in ["distributed", *logging.Logger.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _local_cluster_size(address: str) -> int | None:
    """"local" or "local:N" starts a LocalCluster of N single-threaded worker processes
    (for trying it out and for the benchmark); None for a scheduler address."""
    if address != "local" and not address.startswith("local:"):
        return None
    from ..config import default_jobs

    _, _, count = address.partition(":")
    if not count:
        return default_jobs()
    if not count.isdigit() or int(count) < 1:
        raise UsageError(f"bad cluster address {address!r}: use tcp://HOST:8786, "
                         "or local:N with N >= 1").naming(**SETTING_WORDS)
    return int(count)


def start_local_cluster(workers: int, **options: Any) -> Any:
    """A LocalCluster of single-threaded worker processes, quiet, without a dashboard.

    Its nannies would set Dask's worker environment (MALLOC_TRIM_THRESHOLD_ among it) in
    this process too, where a local pool started later would inherit it: not that one.
    """
    import dask
    from distributed import LocalCluster

    from . import pool  # noqa: F401 - one BLAS thread per process, set before workers spawn

    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None}):
        return LocalCluster(**{"n_workers": workers, "threads_per_worker": 1, "processes": True,
                               "dashboard_address": None, "silence_logs": logging.CRITICAL,
                               **options})


class DaskExecutor(BatchExecutor[Any]):
    """Analysis on a Dask cluster: connect, check versions, run batches as Dask tasks."""

    def __init__(self, address: str, timeout: float, timeout_per_mb: float = 1.0, *,
                 path_map: Iterable[tuple[str, str]] = (), transfer: str = "auto",
                 notify: Any = None) -> None:
        super().__init__(timeout, timeout_per_mb)
        try:
            import distributed
        except ImportError as error:
            raise ClusterError("analysis on a Dask cluster needs the distributed package: "
                               "pip install 'samplemind[cluster]'") from error
        if transfer not in ("auto", "paths", "bytes"):
            raise ValueError(f"transfer must be auto, paths or bytes, not {transfer!r}")
        self._distributed = distributed
        self.address = address
        # Longest prefix first, so /Volumes/Samples/Drums wins over /Volumes/Samples.
        self.path_map = sorted(path_map, key=lambda pair: len(pair[0]), reverse=True)
        self.transfer = transfer
        self.ship = transfer == "bytes"
        self.notify = notify or (lambda message: None)
        self._expected = environment()
        self._cluster: Any = None
        self._client: Any = None
        self._slot_count = 0
        self._slots_checked = 0.0
        self._no_workers_since: float | None = None
        self._scattered: dict[str, Any] = {}  # task key -> its shipped bytes, kept until done
        self._finished: queue.SimpleQueue[Any] = queue.SimpleQueue()  # futures as they end
        self._killed: dict[str, int] = {}  # path -> times a batch of it alone lost its workers
        self._resent: dict[tuple[str, ...], int] = {}  # batch -> times its result was lost
        _quiet_distributed_logs()
        try:
            self._connect()
            self._check_workers()
            self._client.run(_warm_up, wait=False)
        except BaseException:
            self.close()
            raise

    # -- connecting -------------------------------------------------------------------------

    def _connect(self) -> None:
        distributed = self._distributed
        size = _local_cluster_size(self.address)
        target: Any = self.address
        if size is not None:
            self._cluster = start_local_cluster(size)
            target = self._cluster
        try:
            self._client = distributed.Client(target, set_as_default=False)
        except ValueError as error:
            raise UsageError(f"bad cluster address {self.address!r}: {error} "
                             "(use tcp://HOST:8786)").naming(**SETTING_WORDS) from error
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: {error} "
                               "(is `dask scheduler` running there?)") from error
        if not self._client.nthreads():
            try:
                self._client.wait_for_workers(1, timeout=self._grace_seconds())
            except (TimeoutError, OSError) as error:
                raise ClusterError(f"no Dask workers are connected to {self.address}: start "
                                   f"some with `dask worker {self.address}`") from error

    def _grace_seconds(self) -> float:
        """How long to wait for workers: Dask's own connect timeout."""
        import dask
        from dask.utils import parse_timedelta

        return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))

    def _check_workers(self) -> None:
        """Every worker runs the same samplemind, Essentia and analysis versions, or nothing is sent."""
        try:
            reported: dict[str, dict[str, str]] = self._client.run(environment)
        except Exception as error:  # noqa: BLE001 - typically samplemind missing on a worker
            raise ClusterError(
                f"a Dask worker at {self.address} cannot run samplemind's analysis "
                f"({type(error).__name__}: {error}); install the same samplemind on every "
                f"worker: pip install 'samplemind[cluster]=={self._expected['samplemind']}'"
            ) from error
        mismatched = {address: _differences(theirs, self._expected)
                      for address, theirs in sorted(reported.items())}
        mismatched = {address: found for address, found in mismatched.items() if found}
        if mismatched:
            shown = [f"{address} has {', '.join(found)}"
                     for address, found in list(mismatched.items())[:3]]
            more = len(mismatched) - len(shown)
            raise ClusterError(
                f"{len(mismatched)} of {len(reported)} Dask workers at {self.address} run other "
                f"versions, so their results would not match this catalog (nothing was sent): "
                + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
                + f". Install the same versions on every worker (pip install "
                f"'samplemind[cluster]=={self._expected['samplemind']}').")
        threads = sum(self._client.nthreads().values())
        where = "a local Dask cluster" if self._cluster is not None else \
            f"the Dask cluster at {self.address}"
        self.notify(f"Analysing on {where}: {len(reported)} worker"
                    f"{'' if len(reported) == 1 else 's'}, {threads} thread"
                    f"{'' if threads == 1 else 's'}")

    # -- paths or bytes -----------------------------------------------------------------------

    def remote_path(self, path: str) -> str:
        """Where the workers see a file: path with its path-map prefix replaced."""
        for local, remote in self.path_map:
            prefix = local.rstrip("/")
            if path == local or path.startswith(prefix + "/"):
                return remote.rstrip("/") + path[len(prefix):]
        return path

    def _prepare(self, jobs: list[AnalysisJob]) -> None:
        if self.transfer == "bytes":
            self.ship = True
            return
        step = max(1, len(jobs) // PROBE_FILES)
        checks = [(self.remote_path(job.path), job.size) for job in jobs[::step][:PROBE_FILES]]
        seen = self._call(self._client.run, _sees_files, checks)
        blind = sorted(address for address, ok in seen.items() if not ok)
        if not blind:
            self.ship = False
            return
        if self.transfer == "paths":
            raise ClusterError(f"the Dask worker {blind[0]} does not see {checks[0][0]} "
                               f"(mapped from {jobs[0].path} by a path map): check the mapping, "
                               "or use the ship-bytes setting").naming(**SETTING_WORDS)
        self.ship = True
        self.notify(shipping_notice(len(blind), len(seen)))

    # -- the BatchExecutor hooks ----------------------------------------------------------------

    def _slots(self) -> int:
        now = time.monotonic()
        if now - self._slots_checked >= SLOTS_REFRESH_SECONDS:
            self._slot_count = sum(self._call(self._client.nthreads).values())
            self._slots_checked = now
        return self._slot_count

    def _submit(self, batch: list[AnalysisJob]) -> Any:
        key = f"samplemind-analyse-{uuid.uuid4().hex}"
        timeout = self.timeout_for(batch)
        if not self.ship:
            paths = [self.remote_path(job.path) for job in batch]
            return self._watch(self._call(self._client.submit, run_batch, paths, timeout,
                                          self._expected, key=key, pure=False))
        contents = [_read(job.path) for job in batch]
        # Scattered, not inlined: file contents must not travel inside the task graph.
        [shipped] = self._call(self._client.scatter, [contents], hash=False)
        self._scattered[key] = shipped
        return self._watch(self._call(self._client.submit, run_batch, [job.path for job in batch],
                                      timeout, self._expected, shipped, key=key, pure=False))

    def _watch(self, future: Any) -> Any:
        future.add_done_callback(self._finished.put)
        return future

    def _wait(self, handles: list[Any], seconds: float) -> Iterable[Any]:
        # Futures report themselves done (also when cancelled by a lost scheduler) through
        # their callbacks; distributed.wait() would need a process-wide default client.
        waiting = set(handles)
        done = []
        try:
            done.append(self._finished.get(timeout=seconds))
            while True:
                done.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        done = [handle for handle in done if handle in waiting]
        return done or [handle for handle in handles if handle.status != "pending"]

    def _outcomes(self, handle: Any, batch: list[AnalysisJob]) -> list[Outcome]:
        self._scattered.pop(handle.key, None)
        status = handle.status
        if status == "error":
            error = self._call(handle.exception)
            if isinstance(error, self._distributed.KilledWorker):
                # Dask already retried it on other workers. A file alone is given one more
                # round: it may only have been queued on workers that died of something else.
                if len(batch) > 1:
                    raise BatchFailed("the Dask workers analysing this batch died")
                path = batch[0].path
                rounds = self._killed[path] = self._killed.get(path, 0) + 1
                raise BatchFailed("the Dask workers analysing this file died (tried on "
                                  f"{rounds * (error.allowed_failures + 1)} workers)",
                                  retry=rounds < SINGLE_FILE_ROUNDS)
            raise BatchFailed(f"analysis failed on the Dask cluster: {type(error).__name__}: {error}")
        if status == "cancelled" or self._client.status != "running":
            raise self._lost()
        if status != "finished":
            # "lost": it finished, but the worker holding its result died before we fetched it.
            raise self._again(batch, "its result was lost with its Dask worker")
        try:
            kind, payload = self._call(handle.result)
        except ClusterError:
            raise
        except Exception as error:  # noqa: BLE001 - the same, caught while fetching it
            raise self._again(batch, f"{type(error).__name__}: {error}") from error
        if kind == "mismatch":
            raise ClusterError(
                f"a Dask worker that joined {self.address} during the scan runs other versions: "
                + ", ".join(_differences(payload, self._expected))
                + "; the files analysed so far are kept. Install the same versions on every "
                f"worker (pip install 'samplemind[cluster]=={self._expected['samplemind']}').")
        if kind == "failed":
            raise BatchFailed(payload)
        return [(job.path, result, error) for job, (result, error) in zip(batch, payload)]

    def _again(self, batch: list[AnalysisJob], reason: str) -> BatchFailed:
        """Run a batch whose result never arrived once more, a few times at most."""
        key = tuple(job.path for job in batch)
        rounds = self._resent[key] = self._resent.get(key, 0) + 1
        return BatchFailed(f"analysis failed on the Dask cluster: {reason}",
                           retry=rounds <= RESEND_ROUNDS)

    def _cancel(self, handles: list[Any]) -> None:
        self._scattered.clear()
        if self._client is not None and self._client.status == "running":
            try:
                self._client.cancel(handles)
            except Exception:  # noqa: BLE001 - giving up anyway
                pass

    def _heartbeat(self) -> None:
        if self._client.status != "running":
            raise self._lost()
        if self._slots():
            self._no_workers_since = None
            return
        now = time.monotonic()
        self._no_workers_since = self._no_workers_since or now
        if now - self._no_workers_since > self._grace_seconds():
            raise ClusterError(f"every Dask worker left {self.address}: the files analysed so "
                               "far are kept; start workers and scan again to resume")

    # -- errors and closing -------------------------------------------------------------------

    def _lost(self) -> ClusterError:
        return ClusterError(f"lost the connection to the Dask scheduler at {self.address}: the "
                            "files analysed so far are kept; scan again to resume")

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """A client call; once the scheduler is gone, every failure means that."""
        if self._client.status != "running":
            raise self._lost()
        try:
            return function(*args, **kwargs)
        except (ClusterError, UsageError):
            raise
        except Exception as error:
            if self._client.status != "running" or isinstance(
                    error, self._distributed.CancelledError):
                raise self._lost() from error
            raise

    def close(self) -> None:
        """Disconnect (and stop a cluster this executor started); the cluster itself stays."""
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        self._scattered.clear()
        if client is not None:
            try:
                client.close(timeout=CLOSE_TIMEOUT_SECONDS)
            except Exception:  # noqa: BLE001 - a lost scheduler cannot be told goodbye
                pass
        if cluster is not None:
            try:
                cluster.close(timeout=CLOSE_TIMEOUT_SECONDS * 2)
            except Exception:  # noqa: BLE001
                pass


def _read(path: str) -> bytes | str:
    """A file's bytes, or why it could not be read (failed like any unreadable file)."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        return f"cannot read the file: {error.strerror or error}"
