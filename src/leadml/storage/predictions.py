"""Stored predictions: the cache of what was predicted, and the record the feedback loop reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, select, text, update
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


# The single-lead write and the cached read, built once (building costs more than running them).
_TABLE = Prediction.__table__
_EXPIRE_ACTIVE = (
    _TABLE.update()
    .where(_TABLE.c.lead_id == bindparam("expire_lead_id"), _TABLE.c.type == bindparam("expire_type"),
           _TABLE.c.status == "ACTIVE")
    .values(status="EXPIRED")
)
_MAX_ID = select(func.max(_TABLE.c.id))
_NEXT_ID_POSTGRES = text("SELECT nextval(pg_get_serial_sequence('predictions', 'id'))")
_INSERT = _TABLE.insert()
_LATEST_JSON = (
    select(Prediction.id, Prediction.status, Prediction.valid_until, cast(Prediction.payload, Text))
    .join(Lead, Lead.id == Prediction.lead_id)
    .where(Prediction.lead_id == bindparam("lead_id"), Prediction.type == bindparam("prediction_type"),
           Lead.tenant_id == bindparam("tenant_id"))
    .order_by(Prediction.predicted_at.desc(), Prediction.id.desc())
    .limit(1)
)


def replace_active(session: Session, *, lead_id: int, prediction_type: str,
                   values: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """Expire the lead's ACTIVE prediction of this type and insert the new one, whose column values
    `values(new id)` gives (so that its stored document can carry its own id): one UPDATE and one
    INSERT in the caller's transaction, no ORM flush. ORM objects already loaded in the session are
    not refreshed by it. Returns the inserted values, id included."""
    session.execute(_EXPIRE_ACTIVE, {"expire_lead_id": lead_id, "expire_type": prediction_type})
    prediction_id = _new_id(session)
    row = {**values(prediction_id), "id": prediction_id, "lead_id": lead_id, "type": prediction_type}
    session.execute(_INSERT, row)
    return row


def _new_id(session: Session) -> int:
    """On SQLite the UPDATE before holds the database's write lock until commit, so the id after the
    current maximum is ours; PostgreSQL hands out the next value of the id sequence."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(_NEXT_ID_POSTGRES)
    return (session.scalar(_MAX_ID) or 0) + 1


def latest_json(session: Session, *, tenant_id: int, lead_id: int,
                prediction_type: str) -> tuple[int, str, datetime, str] | None:
    """(id, status, valid_until, document as stored JSON text) of the lead's newest prediction of this
    type, or None (also when the lead is another tenant's). The text is passed through unparsed."""
    row = session.execute(_LATEST_JSON, {"lead_id": lead_id, "prediction_type": prediction_type,
                                         "tenant_id": tenant_id}).first()
    return None if row is None else tuple(row)
