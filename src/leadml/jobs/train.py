"""Training as a job: recorded, progress-reporting, one at a time per config."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadml.jobs.runner import JobContext
from leadml.scoring.training import TrainingOptions, train_config
from leadml.storage import jobs as job_store
from leadml.storage import models as model_store
from leadml.storage.tables import Lead, ScoringConfig


def schedule_training(session: Session, *, config: ScoringConfig, reason: str = "manual"):
    return job_store.create_job(session, tenant_id=config.tenant_id, config_id=config.id, kind="train",
                                params={"reason": reason})


def training_work(engine: Engine, sessions: sessionmaker[Session], config_id: int, options: TrainingOptions):
    def work(context: JobContext) -> dict[str, Any]:
        return train_config(engine, sessions, config_id=config_id, options=options,
                            progress=lambda done, total: context.progress(done, total))

    return work


def outcomes_since_last_training(session: Session, *, config_id: int) -> int:
    """Outcomes recorded after the active conversion model was trained (all of them without one)."""
    active = model_store.active(session, config_id=config_id, kind="conversion")
    query = select(func.count()).select_from(Lead).where(Lead.config_id == config_id, Lead.outcome_status != "open")
    if active is not None:
        query = query.where(Lead.updated_at > active.created_at)
    return session.scalar(query) or 0


def retrain_due(session: Session, *, config: ScoringConfig, every: int) -> bool:
    if every <= 0:
        return False
    busy = session.scalar(select(func.count()).select_from(job_store.Job).where(
        job_store.Job.config_id == config.id, job_store.Job.kind == "train", job_store.Job.status.in_(job_store.RUNNING)))
    return not busy and outcomes_since_last_training(session, config_id=config.id) >= every
