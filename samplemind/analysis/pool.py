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

import multiprocessing
import os
import signal
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, TimeoutError, wait
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


def start_process_pool(workers: int) -> ProcessPool:
    """A pebble pool of warm analysis workers, forked from a server that imported Essentia."""
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that already imported Essentia: fast restarts.
    context.set_forkserver_preload(["samplemind.analysis.extract"])
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
        return batch_outcomes(handle, self.timeout_for(batch))

    def _cancel(self, handles: list[Future[Any]]) -> None:
        for handle in handles:
            handle.cancel()

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None
