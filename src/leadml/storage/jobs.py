"""Job records: bulk scoring and training runs with status and progress."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.jobs import liveness
from leadml.storage.tables import Job

RUNNING = ("queued", "running", "cancelling")


def close_if_orphaned(job: Job, *, now: datetime | None = None) -> bool:
    """A queued/running/cancelling job whose worker process is gone: cancelling becomes cancelled,
    the others failed with the reason. Returns whether the job was closed."""
    if job.status not in RUNNING or liveness.worker_alive(job.worker, job.heartbeat_at, now=now):
        return False
    if job.status == "cancelling":
        job.status = "cancelled"
    else:
        job.error = (f"the process running this {job.kind} job ({job.worker or 'unknown'}) stopped before it finished"
                     f" (server crash or restart while {job.status}); start the job again")
        job.status = "failed"
    job.finished_at = now or datetime.now(UTC)
    return True


def close_orphaned_jobs(session: Session) -> list[int]:
    """Close every job left queued/running/cancelling by a dead worker (at server or CLI start)."""
    closed = [job.id for job in session.scalars(select(Job).where(Job.status.in_(RUNNING))) if close_if_orphaned(job)]
    session.flush()
    return closed


def create_job(session: Session, *, tenant_id: int, config_id: int, kind: str, params: dict[str, Any] | None = None,
               engine: str = "local") -> Job:
    """One job of a kind per config at a time (a job whose worker died does not count: it is closed).

    The job is recorded as this process's (its worker); whoever runs it claims it again."""
    busy = [job for job in session.scalars(
        select(Job).where(Job.config_id == config_id, Job.kind == kind, Job.status.in_(RUNNING))
    ) if not close_if_orphaned(job)]
    if busy:
        raise errors.Conflict(f"a {kind} job is already running for config {config_id}", details={"jobId": busy[0].id})
    now = datetime.now(UTC)
    job = Job(tenant_id=tenant_id, config_id=config_id, kind=kind, status="queued", params=params or {},
              engine=engine, created_at=now, worker=liveness.identity(), heartbeat_at=now)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, tenant_id: int | None, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
        raise errors.NotFound(f"job {job_id} not found")
    return job


def _rate_and_eta(job: Job) -> tuple[float | None, float | None]:
    """Leads (or steps) per second since the job started, and the seconds left at that rate."""
    if job.started_at is None or not job.processed:
        return None, None
    elapsed = ((job.finished_at or datetime.now(UTC)) - job.started_at).total_seconds()
    if elapsed <= 0:
        return None, None
    rate = job.processed / elapsed
    left = max(job.total - job.processed, 0) / rate if job.status in RUNNING else 0.0
    return round(rate, 2), round(left, 1)


def to_dict(job: Job) -> dict[str, Any]:
    rate, eta = _rate_and_eta(job)
    return {"rate": rate, "etaSeconds": eta,
        "id": job.id, "kind": job.kind, "status": job.status, "processed": job.processed, "total": job.total,
        "failed": job.failed, "engine": job.engine, "configId": job.config_id,
        "startedAt": job.started_at.isoformat() if job.started_at else None,
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error, "result": job.result,
    }
