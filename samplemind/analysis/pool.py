"""The analysis executor: a pool of warm worker processes that survives crashes.

Essentia can segfault or abort on broken files, which ``try/except`` cannot catch
and which breaks every pending future of a ``concurrent.futures`` pool. Pebble
replaces a dead worker and enforces per-task timeouts. Small files travel in
batches to keep per-file overhead low; a batch that crashes or times out is
split and its files retried one by one, so only the guilty file fails.

The scan code only sees ``AnalysisExecutor``: anything with ``analyse(jobs)``
that yields outcomes can stand in (a Dask cluster, for instance).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, TimeoutError, wait
from dataclasses import dataclass
from typing import Any, Protocol

from pebble import ProcessExpired, ProcessPool

from .worker import FAULT_ENV, Outcome, analyse_batch, init_worker

# One worker per core: a BLAS thread pool inside each worker only fights the other
# workers (measured: 10x slower per file). Set before the forkserver starts, so every
# worker inherits it before NumPy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

BATCH_BYTES = 2 * 1024 * 1024  # files up to this total travel together
BATCH_FILES = 16
HEARTBEAT_SECONDS = 0.5


@dataclass(frozen=True)
class AnalysisJob:
    """One file to analyse."""

    path: str
    size: int


class AnalysisExecutor(Protocol):
    """Runs analysis jobs and yields (path, result, error) as they finish, or None as a
    heartbeat while nothing has finished for a while."""

    def analyse(self, jobs: Iterable[AnalysisJob]) -> Iterator[Outcome | None]: ...

    def close(self) -> None: ...


def batches(jobs: Iterable[AnalysisJob]) -> Iterator[list[AnalysisJob]]:
    """Group small files; a large file travels alone."""
    batch: list[AnalysisJob] = []
    total = 0
    for job in jobs:
        if batch and (total + job.size > BATCH_BYTES or len(batch) >= BATCH_FILES):
            yield batch
            batch, total = [], 0
        batch.append(job)
        total += job.size
    if batch:
        yield batch


def _describe_death(error: ProcessExpired) -> str:
    code = error.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the analysis worker crashed ({name}) on this file"
    return f"the analysis worker exited unexpectedly (code {code}) on this file"


class LocalPool:
    """A pebble process pool with warm workers, per-file timeouts and crash isolation."""

    def __init__(self, jobs: int, timeout: float, timeout_per_mb: float = 1.0) -> None:
        self.workers = max(1, jobs)
        self.timeout = timeout
        self.timeout_per_mb = timeout_per_mb
        self._pool: ProcessPool | None = None

    def _ensure_pool(self) -> ProcessPool:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # Workers fork from a server that already imported Essentia: fast restarts.
            context.set_forkserver_preload(["samplemind.analysis.extract"])
            self._pool = ProcessPool(max_workers=self.workers, initializer=init_worker,
                                     initargs=(os.environ.get(FAULT_ENV, ""),),
                                     context=context)
        return self._pool

    def _timeout_for(self, batch: list[AnalysisJob]) -> float:
        # One file's allowance for the whole batch: small files take milliseconds, so a
        # batch that needs that long holds a hanging file, and is split to find it.
        return self.timeout + sum(job.size for job in batch) / 1e6 * self.timeout_per_mb

    def _submit(self, batch: list[AnalysisJob]) -> Future[Any]:
        pool = self._ensure_pool()
        return pool.schedule(analyse_batch, args=([job.path for job in batch],),
                             timeout=self._timeout_for(batch))

    def analyse(self, jobs: Iterable[AnalysisJob]) -> Iterator[Outcome | None]:
        """Yield one outcome per job, in completion order (None: a heartbeat)."""
        pending: dict[Future[Any], list[AnalysisJob]] = {}
        retry: list[list[AnalysisJob]] = []
        source = batches(jobs)
        limit = self.workers * 3  # enough queued work to keep workers busy, bounded memory
        exhausted = False
        while True:
            while len(pending) < limit and (retry or not exhausted):
                if retry:
                    batch = retry.pop()
                else:
                    batch = next(source, None)
                    if batch is None:
                        exhausted = True
                        break
                pending[self._submit(batch)] = batch
            if not pending:
                return
            done, _ = wait(list(pending), timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
            if not done:
                yield None  # a heartbeat, so the caller can commit while a slow file runs
                continue
            for future in done:
                batch = pending.pop(future)
                try:
                    outcomes = future.result()
                except TimeoutError:
                    reason = f"timed out after {self._timeout_for(batch):.0f} s"
                except ProcessExpired as error:
                    reason = _describe_death(error)
                except Exception as error:  # pool-level failure (pickling, …)
                    reason = f"analysis failed: {type(error).__name__}: {error}"
                else:
                    yield from outcomes
                    continue
                if len(batch) > 1:
                    # Retry each file alone so only the guilty one fails.
                    retry.extend([job] for job in batch)
                else:
                    yield (batch[0].path, None, reason)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None
