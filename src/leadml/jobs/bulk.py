"""Bulk scoring as a job: recorded, progress with rate and ETA, cancellable, resumable, one per config.

Each chunk of predictions is committed together with the job's checkpoint (the last lead id
written), so a job interrupted by a crash or a restart resumes after that lead: no lead is scored
twice by one job and no chunk is half-written. Cancelling takes effect at the next chunk.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml import db
from leadml.jobs import liveness
from leadml.jobs.runner import Cancelled, JobContext
from leadml.scoring import bulk
from leadml.storage import configs
from leadml.storage import jobs as job_store
from leadml.storage.tables import Job, ScoringConfig

log = logging.getLogger(__name__)
KIND = "bulk_predict"


def schedule_bulk(session: Session, *, config: ScoringConfig, request: bulk.BulkRequest, reason: str = "manual",
                  engine: str = "local") -> Job:
    """Record a queued bulk job (errors.Conflict while another bulk job of the config is running)."""
    return job_store.create_job(session, tenant_id=config.tenant_id, config_id=config.id, kind=KIND,
                                params={"request": asdict(request), "reason": reason}, engine=engine)


def bulk_work(engine: Engine, sessions: sessionmaker[Session], job_id: int, *, model_loader=None,
              dask_scheduler: str | None = None):
    """The job function for the runner (API thread, CLI foreground, or resumed after a restart)."""

    def work(context: JobContext) -> dict[str, Any]:
        with db.transaction(sessions) as session:
            job = session.get(Job, job_id)
            request = bulk.BulkRequest(**job.params["request"])
            # The checkpoint lives in params: the runner replaces `result` when a run ends, even a failed one.
            saved = job.params.get("checkpoint") or {}
            resume_after, already = saved.get("resumeAfterLeadId"), saved.get("written", 0)
            config = configs.get_config(session, tenant_id=None, config_id=job.config_id)
            plan = bulk.plan(session, config=config, request=request, model_loader=model_loader,
                             resume_after=resume_after)
        total = already + len(plan.to_score) + len(plan.fresh)

        def checkpoint(session: Session, last_lead_id: int, summary: bulk.BulkSummary) -> None:
            row = session.get(Job, job_id)
            if row.status == "cancelling":
                raise Cancelled()  # rolls this chunk back: whole chunks only
            row.processed, row.total, row.failed = already + summary.processed, total, summary.failed
            row.params = {**row.params, "checkpoint": {"resumeAfterLeadId": last_lead_id,
                                                        "written": already + summary.successful}}

        def progress(summary: bulk.BulkSummary) -> None:
            if context.on_progress:
                context.on_progress(already + summary.processed, total)

        context.check_cancelled()
        if dask_scheduler:
            from leadml.jobs import dask_engine

            summary = dask_engine.run(engine, sessions, plan, request=request, scheduler=dask_scheduler,
                                      checkpoint=checkpoint, progress=progress)
        else:
            summary = bulk.run(engine, sessions, plan, request=request, checkpoint=checkpoint, progress=progress)
        result = summary.as_dict()
        result.update(processed=already + summary.processed, total=total, resumed=resume_after is not None)
        with db.transaction(sessions) as session:
            row = session.get(Job, job_id)
            row.processed, row.total = already + summary.processed, total
        return result

    return work


def interrupted_jobs(session: Session) -> list[Job]:
    """Bulk jobs left queued or running by a process that died (a live process's jobs are its own)."""
    jobs = session.scalars(select(Job).where(Job.kind == KIND, Job.status.in_(("queued", "running"))))
    return [job for job in jobs if not liveness.worker_alive(job.worker, job.heartbeat_at)]


def requeue(session: Session, job: Job) -> None:
    """Claim an interrupted job for this process; it resumes after its checkpoint."""
    job.status, job.worker, job.heartbeat_at = "queued", liveness.identity(), datetime.now(UTC)
    session.flush()


def refresh_due(session: Session, *, now: datetime | None = None) -> list[ScoringConfig]:
    """Configs with a refresh interval whose last bulk job started longer ago than that (or never)."""
    now = now or datetime.now(UTC)
    due = []
    for config in session.scalars(select(ScoringConfig).where(ScoringConfig.refresh_interval_hours.is_not(None))):
        last = session.scalar(select(Job).where(Job.config_id == config.id, Job.kind == KIND)
                              .order_by(Job.created_at.desc(), Job.id.desc()).limit(1))
        if last is not None and last.status in job_store.RUNNING:
            continue
        if last is None or (now - last.created_at).total_seconds() >= config.refresh_interval_hours * 3600:
            due.append(config)
    return due
