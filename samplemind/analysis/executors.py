"""One executor interface for analysis: the local process pool or a Dask cluster.

The scan code only sees ``AnalysisExecutor``: ``analyse(jobs)`` yields one outcome
``(path, result, error)`` per job as files finish (or ``None``, a heartbeat, while
nothing finished for a while), and ``close()`` stops it. This module is the interface
and the shared base; the implementations import it, never the other way round: the
local pebble pool (pool.py) and a Dask cluster (cluster.py). ``backends.open_executor``
picks one.

Both share ``BatchExecutor``, which owns the per-file semantics: small files travel in
batches; a batch that crashes its worker, times out or is lost with its worker is split
and its files retried one by one, so only the guilty file fails; a bounded number of
batches is in flight; work still pending when the caller stops is cancelled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..closing import Closing
from .worker import Outcome

BATCH_BYTES = 2 * 1024 * 1024  # files up to this total travel together
BATCH_FILES = 16
HEARTBEAT_SECONDS = 0.5
QUEUED_PER_SLOT = 3  # batches in flight per worker slot: busy workers, bounded memory



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


class BatchFailed(Exception):
    """A whole batch failed (its worker crashed or died, or it ran out of time).

    retry: the batch is run again as it is, rather than split (or, alone, failed): its
    worker may have died of something else, or its result was lost on the way.
    """

    def __init__(self, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


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


Handle = TypeVar("Handle")


class BatchExecutor(Closing, ABC, Generic[Handle]):
    """The shared analysis loop; subclasses say how a batch is run and awaited."""

    def __init__(self, timeout: float, timeout_per_mb: float = 1.0) -> None:
        self.timeout = timeout
        self.timeout_per_mb = timeout_per_mb

    def timeout_for(self, batch: Sequence[AnalysisJob]) -> float:
        """Seconds a batch may take in its worker before it is stopped."""
        # One file's allowance for the whole batch: small files take milliseconds, so a
        # batch that needs that long holds a hanging file, and is split to find it.
        return self.timeout + sum(job.size for job in batch) / 1e6 * self.timeout_per_mb

    # -- what an implementation provides ----------------------------------------------------

    @abstractmethod
    def _slots(self) -> int:
        """How many batches can run at once."""

    def _prepare(self, jobs: list[AnalysisJob]) -> None:  # noqa: B027 - optional hook
        """Called once before the first batch of an analyse() call is submitted."""

    @abstractmethod
    def _submit(self, batch: list[AnalysisJob]) -> Handle:
        """Start a batch; returns a handle to wait on."""

    @abstractmethod
    def _wait(self, handles: list[Handle], seconds: float) -> Iterable[Handle]:
        """The handles that finished within seconds (none: a heartbeat)."""

    @abstractmethod
    def _outcomes(self, handle: Handle, batch: list[AnalysisJob]) -> list[Outcome]:
        """The outcomes of a finished batch; raises BatchFailed when the batch as a
        whole failed. Any other exception ends the analysis."""

    @abstractmethod
    def _cancel(self, handles: list[Handle]) -> None:
        """Give up on batches still running (the caller stopped listening)."""

    def _heartbeat(self) -> None:  # noqa: B027 - optional hook
        """Called while nothing finishes; may raise to end the analysis."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (or the connection to them)."""

    # -- the loop ---------------------------------------------------------------------------

    def analyse(self, jobs: Iterable[AnalysisJob]) -> Iterator[Outcome | None]:
        """Yield one outcome per job, in completion order (None: a heartbeat)."""
        jobs = list(jobs)
        if not jobs:
            return
        self._prepare(jobs)
        pending: dict[Any, list[AnalysisJob]] = {}
        retry: list[list[AnalysisJob]] = []
        source = batches(jobs)
        exhausted = False
        try:
            while True:
                limit = max(1, self._slots()) * QUEUED_PER_SLOT
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
                done = list(self._wait(list(pending), HEARTBEAT_SECONDS))
                if not done:
                    self._heartbeat()
                    yield None  # a heartbeat, so the caller can commit while a slow file runs
                    continue
                for handle in done:
                    batch = pending.pop(handle)
                    try:
                        outcomes = self._outcomes(handle, batch)
                    except BatchFailed as failure:
                        if failure.retry:
                            retry.append(batch)
                        elif len(batch) > 1:
                            # Retry each file alone so only the guilty one fails.
                            retry.extend([job] for job in batch)
                        else:
                            yield (batch[0].path, None, failure.reason)
                    else:
                        yield from outcomes
        finally:
            if pending:
                self._cancel(list(pending))
