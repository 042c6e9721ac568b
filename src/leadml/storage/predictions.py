"""Stored predictions: the cache of what was predicted, and the record the feedback loop reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import Lead, Prediction


def latest(session: Session, *, lead_id: int, prediction_type: str) -> Prediction | None:
    return session.scalar(
        select(Prediction)
        .where(Prediction.lead_id == lead_id, Prediction.type == prediction_type)
        .order_by(Prediction.predicted_at.desc(), Prediction.id.desc())
        .limit(1)
    )


def reusable(
    session: Session, *, lead: Lead, prediction_type: str, source: str, model_version_id: int | None,
    rule_based_only: bool, now: datetime,
) -> Prediction | None:
    """The newest still-valid prediction made the same way, unless the lead changed since."""
    row = session.scalar(
        select(Prediction)
        .where(
            Prediction.lead_id == lead.id,
            Prediction.type == prediction_type,
            Prediction.status == "ACTIVE",
            Prediction.valid_until > now,
            Prediction.source == source,
            Prediction.rule_based_only == rule_based_only,
            (Prediction.model_version_id == model_version_id) if model_version_id is not None
            else Prediction.model_version_id.is_(None),
        )
        .order_by(Prediction.predicted_at.desc(), Prediction.id.desc())
        .limit(1)
    )
    if row is not None and lead.updated_at > row.predicted_at:
        return None
    return row


def expire_active(session: Session, *, lead_id: int, prediction_type: str) -> None:
    session.execute(
        update(Prediction)
        .where(Prediction.lead_id == lead_id, Prediction.type == prediction_type, Prediction.status == "ACTIVE")
        .values(status="EXPIRED")
    )


def get_prediction(session: Session, *, tenant_id: int, prediction_id: int) -> Prediction:
    row = session.execute(
        select(Prediction, Lead.tenant_id).join(Lead, Lead.id == Prediction.lead_id).where(Prediction.id == prediction_id)
    ).first()
    if row is None or row[1] != tenant_id:
        raise errors.NotFound(f"prediction {prediction_id} not found")
    return row[0]


def in_period(session: Session, *, config_id: int, start: datetime | None, end: datetime | None) -> list[Prediction]:
    query = select(Prediction).where(Prediction.config_id == config_id)
    if start is not None:
        query = query.where(Prediction.predicted_at >= start)
    if end is not None:
        query = query.where(Prediction.predicted_at < end)
    return list(session.scalars(query))
