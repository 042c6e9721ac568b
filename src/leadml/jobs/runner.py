"""Running jobs in the background of the API process, one worker thread, each job in its own sessions.

A job function receives a `JobContext` to report progress and to notice cancellation between steps.
The CLI runs the same functions in the foreground with the same context.

Crash safety: a job row names its worker process (jobs/liveness.py) and carries a heartbeat, refreshed
while it runs. `recover` (at server start; creating a job does the same for its config) closes jobs
whose worker died: they never stay "running" and never block a new job.
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
from leadml.jobs import liveness
from leadml.jobs.fairness import FairQueue
from leadml.storage import jobs as job_store
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
            job.heartbeat_at = datetime.now(UTC)
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
        if job.status != "queued":  # closed meanwhile (cancelled, or failed by recovery)
            return job
        now = datetime.now(UTC)
        job.status, job.started_at, job.worker, job.heartbeat_at = "running", now, liveness.identity(), now
    status, error, result = "succeeded", None, None
    beating = _Heartbeat(sessions, job_id)
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
    finally:
        beating.stop()
    with db.transaction(sessions) as session:
        job = session.get(Job, job_id)
        job.status, job.error, job.result, job.finished_at = status, error, result, datetime.now(UTC)
    return job


class _Heartbeat:
    """Refreshes a running job's heartbeat_at every HEARTBEAT_SECONDS (how other machines see it live)."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(sessions, job_id), name=f"job-{job_id}-heartbeat",
                                        daemon=True)
        self._thread.start()

    def _beat(self, sessions: sessionmaker[Session], job_id: int) -> None:
        while not self._stop.wait(liveness.HEARTBEAT_SECONDS):
            try:
                with db.transaction(sessions) as session:
                    session.get(Job, job_id).heartbeat_at = datetime.now(UTC)
            except Exception:  # noqa: BLE001 - a missed beat is retried; the job goes on
                log.warning("job %s: heartbeat not recorded", job_id, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def recover(sessions: sessionmaker[Session]) -> list[int]:
    """Close the jobs whose worker process died (failed, or cancelled when cancelling); their ids."""
    with db.transaction(sessions) as session:
        closed = job_store.close_orphaned_jobs(session)
    if closed:
        log.warning("closed %d job(s) left behind by a stopped process: %s", len(closed), closed)
    return closed


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
    """Ask a live worker to stop; a job without one (its process died) is cancelled at once."""
    if job.status in ("queued", "running"):
        job.status = "cancelling"
        job_store.close_if_orphaned(job)  # no live worker: cancelled now
    session.flush()
    return job
