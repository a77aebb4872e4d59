"""The local analysis executor: a pool of warm worker processes that survives crashes.

Essentia can segfault or abort on broken files, which ``try/except`` cannot catch
and which breaks every pending future of a ``concurrent.futures`` pool. Pebble
replaces a dead worker and enforces per-task timeouts. Small files travel in
batches to keep per-file overhead low; a batch that crashes or times out is
split and its files retried one by one, so only the guilty file fails
(executors.BatchExecutor).

The scan code only sees ``AnalysisExecutor`` (executors.py): this pool is the
default (backends.open_executor); a Dask cluster (cluster.py) stands in for it the same way.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, TimeoutError, wait
from multiprocessing import forkserver, spawn
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Any

from pebble import ProcessExpired, ProcessPool

from .executors import AnalysisJob, BatchExecutor, BatchFailed
from .limits import worker_memory_ceiling
from .worker import FAULT_ENV, Outcome, analyse_batch, init_worker

# One worker per core: a BLAS thread pool inside each worker only fights the other
# workers (measured: 10x slower per file). Set before the forkserver starts, so every
# worker inherits it before NumPy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def describe_death(error: ProcessExpired) -> str:
    """Why a worker process ended, for the file it was analysing."""
    code = error.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the analysis worker crashed ({name}) on this file"
    return f"the analysis worker exited unexpectedly (code {code}) on this file"


# A new worker normally re-runs the parent's __main__ (as __mp_main__) before it starts. Ours
# only run samplemind's own functions, so they skip it: a script without the
# `if __name__ == "__main__":` guard would otherwise scan again inside every worker (and fail
# with "Unexpected error within the Pool"), and one read from stdin (`python - <<EOF`) has no
# file to re-run (FileNotFoundError: '<stdin>'). Processes of other pools keep the usual rule.
WORKER_NAME_PREFIX = "samplemind-analysis-"


def _preparation_data(name: str) -> dict[str, Any]:
    data = _standard_preparation_data(name)
    if name.startswith(WORKER_NAME_PREFIX):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


_standard_preparation_data = getattr(spawn.get_preparation_data, "standard", None) \
    or spawn.get_preparation_data
_preparation_data.standard = _standard_preparation_data  # type: ignore[attr-defined]
spawn.get_preparation_data = _preparation_data


class _WorkerProcess(ForkServerProcess):
    """A forkserver process named as an analysis worker (so it skips the parent's __main__)."""

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, name=WORKER_NAME_PREFIX + (name or "worker"), **kwargs)


class _WorkerContext(ForkServerContext):
    Process = _WorkerProcess


def _worker_context() -> _WorkerContext:
    context = _WorkerContext()
    # Workers fork from a server that already imported Essentia: fast restarts.
    context.set_forkserver_preload(["samplemind.analysis.extract"])
    return context


def start_forkserver() -> None:
    """Start the process analysis workers fork from (it imports Essentia, a second or more)
    now rather than when the first scan needs it; nothing when it runs already."""
    _worker_context()
    forkserver.ensure_running()


def start_process_pool(workers: int) -> ProcessPool:
    """A pebble pool of warm analysis workers, forked from a server that imported Essentia."""
    context = _worker_context()
    return ProcessPool(max_workers=workers, initializer=init_worker,
                       initargs=(os.environ.get(FAULT_ENV, ""), os.getpid(),
                                 worker_memory_ceiling(workers)),
                       context=context)


def batch_outcomes(future: Future[Any], timeout: float) -> list[Outcome]:
    """The outcomes of a finished pebble batch; BatchFailed when the batch failed whole."""
    try:
        return future.result()
    except TimeoutError as error:
        raise BatchFailed(f"timed out after {timeout:.0f} s") from error
    except ProcessExpired as error:
        raise BatchFailed(describe_death(error)) from error
    except Exception as error:  # pool-level failure (pickling, …)
        raise BatchFailed(f"analysis failed: {type(error).__name__}: {error}") from error


class LocalPool(BatchExecutor["Future[Any]"]):
    """A pebble process pool with warm workers, per-file timeouts and crash isolation."""

    def __init__(self, jobs: int, timeout: float, timeout_per_mb: float = 1.0) -> None:
        super().__init__(timeout, timeout_per_mb)
        self.workers = max(1, jobs)
        self._pool: ProcessPool | None = None
        self._terminated: dict[tuple[str, ...], int] = {}  # batch -> workers SIGTERM ended

    def _ensure_pool(self) -> ProcessPool:
        if self._pool is None:
            self._pool = start_process_pool(self.workers)
        return self._pool

    def _slots(self) -> int:
        return self.workers

    def _submit(self, batch: list[AnalysisJob]) -> Future[Any]:
        pool = self._ensure_pool()
        return pool.schedule(analyse_batch, args=([job.path for job in batch],),
                             timeout=self.timeout_for(batch))

    def _wait(self, handles: list[Future[Any]], seconds: float) -> Iterable[Future[Any]]:
        done, _ = wait(handles, timeout=seconds, return_when=FIRST_COMPLETED)
        return done

    def _outcomes(self, handle: Future[Any], batch: list[AnalysisJob]) -> list[Outcome]:
        try:
            return batch_outcomes(handle, self.timeout_for(batch))
        except BatchFailed as failure:
            cause = failure.__cause__
            if isinstance(cause, ProcessExpired) and cause.exitcode == -signal.SIGTERM:
                # SIGTERM from outside (`kill` of the process group, a service manager
                # stopping us): not the files' fault, so never remembered as their failure.
                # The scan is usually stopping too; otherwise the batch runs again, once.
                key = tuple(job.path for job in batch)
                self._terminated[key] = self._terminated.get(key, 0) + 1
                if self._terminated[key] <= 1:
                    raise BatchFailed(failure.reason, retry=True) from cause
            raise

    def _cancel(self, handles: list[Future[Any]]) -> None:
        for handle in handles:
            handle.cancel()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None
