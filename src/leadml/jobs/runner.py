"""Running jobs in the background of the API process, one worker thread, each job in its own sessions.

A job function receives a `JobContext` to report progress and to notice cancellation between steps.
The CLI runs the same functions in the foreground with the same context.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from leadml import db
from leadml.errors import LeadMLError
from leadml.jobs.fairness import FairQueue
from leadml.storage.tables import Job

log = logging.getLogger(__name__)


class Cancelled(Exception):
    pass


class JobContext:
    def __init__(self, sessions: sessionmaker[Session], job_id: int,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.on_progress = on_progress

    def progress(self, processed: int, total: int, failed: int = 0) -> None:
        with db.transaction(self.sessions) as session:
            job = session.get(Job, self.job_id)
            job.processed, job.total, job.failed = processed, total, failed
            if job.status == "cancelling":
                raise Cancelled()
        if self.on_progress:
            self.on_progress(processed, total)

    def check_cancelled(self) -> None:
        with db.transaction(self.sessions) as session:
            if session.get(Job, self.job_id).status == "cancelling":
                raise Cancelled()


JobFunction = Callable[[JobContext], dict[str, Any]]


def run(sessions: sessionmaker[Session], job_id: int, work: JobFunction,
        on_progress: Callable[[int, int], None] | None = None) -> Job:
    """Run a queued job to its end, recording the outcome; never raises for a failed job."""
    with db.transaction(sessions) as session:
        job = session.get(Job, job_id)
        if job.status == "cancelling":
            job.status, job.finished_at = "cancelled", datetime.now(UTC)
            return job
        job.status, job.started_at = "running", datetime.now(UTC)
    status, error, result = "succeeded", None, None
    try:
        result = work(JobContext(sessions, job_id, on_progress))
    except Cancelled:
        status = "cancelled"
    except LeadMLError as exc:  # an expected failure (e.g. not enough outcomes): its message says it all
        log.info("job %s failed: %s", job_id, exc.message)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a failed job records why; the server keeps serving
        log.exception("job %s failed", job_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    with db.transaction(sessions) as session:
        job = session.get(Job, job_id)
        job.status, job.error, job.result, job.finished_at = status, error, result, datetime.now(UTC)
    return job


class JobRunner:
    """The API's background worker. One thread: jobs are CPU-bound and the machine is small."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadml-job")
        self._futures: dict[int, Future] = {}
        self._queue = FairQueue()
        self._lock = threading.Lock()

    def submit(self, job_id: int, work: JobFunction) -> None:
        # Fairness: each pool task runs the next job of the next tenant in turn (jobs/fairness.py).
        with db.transaction(self.sessions) as session:
            tenant_id = session.get(Job, job_id).tenant_id
        future: Future = Future()
        with self._lock:
            self._futures[job_id] = future
            self._queue.put(tenant_id, (job_id, work, future))
        self._pool.submit(self._run_next)

    def _run_next(self) -> None:
        job_id, work, future = self._queue.pop()
        try:
            future.set_result(run(self.sessions, job_id, work))
        except BaseException as exc:  # run() records failures itself; this is the unexpected rest
            future.set_exception(exc)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def cancel(session: Session, job: Job) -> Job:
    if job.status == "queued" or job.status == "running":
        job.status = "cancelling"
    session.flush()
    return job
