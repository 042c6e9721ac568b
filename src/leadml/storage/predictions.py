"""Stored predictions: the cache of what was predicted, and the record the feedback loop reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, cast, func, select, text, update
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


def new_id(session: Session) -> int:
    """An id for a prediction about to be inserted, so that its stored document can carry it and the
    row is written by one INSERT. Call it after a write in the same transaction: on SQLite that
    write holds the database's write lock until commit, so the id after the current maximum is ours."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT nextval(pg_get_serial_sequence('predictions', 'id'))"))
    return (session.scalar(select(func.max(Prediction.id))) or 0) + 1


def latest_json(session: Session, *, tenant_id: int, lead_id: int,
                prediction_type: str) -> tuple[int, str, datetime, str] | None:
    """(id, status, valid_until, document as stored JSON text) of the lead's newest prediction of this
    type, or None (also when the lead is another tenant's). The text is passed through unparsed."""
    row = session.execute(
        select(Prediction.id, Prediction.status, Prediction.valid_until, cast(Prediction.payload, Text))
        .join(Lead, Lead.id == Prediction.lead_id)
        .where(Prediction.lead_id == lead_id, Prediction.type == prediction_type, Lead.tenant_id == tenant_id)
        .order_by(Prediction.predicted_at.desc(), Prediction.id.desc())
        .limit(1)
    ).first()
    return None if row is None else tuple(row)
