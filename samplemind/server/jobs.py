"""Jobs: long work (scans, upload analysis) that runs in the background with an id,
progress and a result, reported over HTTP and as WebSocket events."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import SampleMindError
from ..library import Library
from ..models import versioned
from .events import EventHub
from .libraries import LibraryPool
from .metrics import Metrics

log = logging.getLogger("samplemind.server")

KEEP_FINISHED = 200  # finished jobs remembered for GET /jobs
PROGRESS_EVERY = 0.1  # seconds between progress events of one job

# progress(done, total, path, phase), from the job's thread
Progress = Callable[[int, int, str, str], None]
Work = Callable[[Library, Progress], dict[str, Any]]


class JobCancelled(SampleMindError):
    """Raised in a job's thread (from its progress callback) when it was cancelled."""

    http_status = 409


class JobFailed(SampleMindError):
    """A job finished without doing what it was for; result still says what happened."""

    http_status = 422

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Job:
    """One piece of background work."""

    id: str
    kind: str
    params: dict[str, Any]
    status: str = "queued"  # queued, running, done, failed, cancelled
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    progress: dict[str, Any] = field(default_factory=lambda: {
        "done": 0, "total": None, "phase": "queued", "path": None})
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        """True once the job is done, failed or cancelled."""
        return self.status in ("done", "failed", "cancelled")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return versioned(id=self.id, kind=self.kind,
                         status=self.status, params=self.params,
                         created_at=_iso(self.created_at), started_at=_iso(self.started_at),
                         finished_at=_iso(self.finished_at), progress=dict(self.progress),
                         result=self.result, error=self.error)


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1000):03d}Z"


class JobManager:
    """Starts jobs in the pool's job thread and keeps their state for the API."""

    def __init__(self, pool: LibraryPool, hub: EventHub, metrics: Metrics,
                 on_finished: Callable[[Job], None] | None = None) -> None:
        self.pool = pool
        self.hub = hub
        self.metrics = metrics
        self.on_finished = on_finished
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()

    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        """Every remembered job, newest first."""
        return list(reversed(self.jobs.values()))

    def active(self) -> int:
        """Jobs queued or running."""
        return sum(job.status in ("queued", "running") for job in self.jobs.values())

    def submit(self, kind: str, params: dict[str, Any], work: Work) -> Job:
        """Queue work; returns the job at once."""
        job = Job(uuid.uuid4().hex[:16], kind, params)
        self.jobs[job.id] = job
        self._forget_old()
        task = asyncio.get_running_loop().create_task(self._run(job, work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.hub.publish("job", job.to_json())
        return job

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self.jobs.items() if job.finished]
        for job_id in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[job_id]

    async def _run(self, job: Job, work: Work) -> None:
        last_sent = [0.0]
        lock = threading.Lock()

        def progress(done: int, total: int, path: str, phase: str) -> None:
            if job.cancel_requested:
                # The scan stops here; what it wrote so far is committed and kept.
                raise JobCancelled("cancelled")
            job.progress = {"done": done, "total": total, "phase": phase, "path": path}
            now = time.monotonic()
            with lock:
                if now - last_sent[0] < PROGRESS_EVERY and done != total:
                    return
                last_sent[0] = now
            self.hub.publish_threadsafe("job", job.to_json())

        def start_and_work(library: Library) -> dict[str, Any]:
            if job.cancel_requested:
                raise JobCancelled("cancelled before it started")
            job.status = "running"
            job.started_at = time.time()
            job.progress = {**job.progress, "phase": "starting"}
            self.hub.publish_threadsafe("job", job.to_json())
            return work(library, progress)

        try:
            job.result = await self.pool.run_job(start_and_work)
            job.status = "done"
        except JobCancelled as exc:
            job.status, job.error = "cancelled", str(exc)
        except JobFailed as exc:
            job.status, job.error, job.result = "failed", str(exc), exc.result
        except SampleMindError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a bug: the job fails, the server keeps serving
            log.exception("job %s (%s) crashed", job.id, job.kind)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        job.finished_at = time.time()
        job.progress = {**job.progress, "phase": job.status}
        self.metrics.jobs.inc(kind=job.kind, status=job.status)
        if job.started_at is not None:
            self.metrics.analysis.observe(job.finished_at - job.started_at, kind=job.kind)
        self.hub.publish("job", job.to_json())
        if self.on_finished:
            self.on_finished(job)

    def cancel(self, job: Job) -> None:
        """Ask a job to stop: a queued job never starts, a running one stops at its next
        file; what it already did is kept."""
        if not job.finished:
            job.cancel_requested = True

    def cancel_all(self) -> None:
        """Ask every unfinished job to stop (at shutdown)."""
        for job in self.jobs.values():
            self.cancel(job)
