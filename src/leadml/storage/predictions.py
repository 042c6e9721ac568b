"""Stored predictions: the cache of what was predicted, and the record the feedback loop reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, select, text, update
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import Lead, Prediction
from leadml.storage.types import to_millis


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
    if row is not None and (row.payload or {}).get("detail") == "summary":
        return None  # a bulk summary lacks the narrative parts a single prediction returns
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


# --- bulk scoring ---------------------------------------------------------------------------------

BULK_COLUMNS = (
    "id", "config_id", "lead_id", "type", "probability", "confidence", "predicted_days", "interval_low",
    "interval_high", "predicted_score", "score_level", "priority_score", "priority_tier", "top_reasons", "payload",
    "source", "model_version_id", "rule_based_only", "status", "valid_until", "predicted_at",
)


def bulk_candidates(
    session: Session, *, config_id: int, now: datetime, source: str, model_version_id: int | None,
    rule_based_only: bool, min_score: float = 0.0, limit: int | None = None,
) -> list[tuple[int, bool]]:
    """(lead id, still fresh) for the config's active, open leads whose current score is at least
    `min_score` (a lead never scored counts as 0), best score first, then newest lead.

    Fresh: its ACTIVE conversion prediction is still valid, was made the same way (source, model
    version, rules forced or not) and is not older than the lead's last change. Without a limit
    the order is by lead id (every lead is taken anyway).
    """
    same_version = "p.model_version_id = :version" if model_version_id is not None else "p.model_version_id IS NULL"
    order = "ORDER BY coalesce(p.predicted_score, 0) DESC, l.created_at DESC, l.id LIMIT :limit" if limit else "ORDER BY l.id"
    sql = text(f"""
        SELECT l.id,
               CASE WHEN p.id IS NOT NULL AND p.valid_until > :now AND p.source = :source AND {same_version}
                         AND p.rule_based_only = :rbo AND p.predicted_at >= l.updated_at THEN 1 ELSE 0 END
        FROM leads l
        LEFT JOIN predictions p ON p.lead_id = l.id AND p.type = 'CONVERSION' AND p.status = 'ACTIVE'
        WHERE l.config_id = :config AND l.is_active = :yes AND l.outcome_status = 'open'
          AND coalesce(p.predicted_score, 0) >= :min_score
        {order}
    """)
    params = {"now": to_millis(now), "source": source, "version": model_version_id,
              "rbo": rule_based_only, "config": config_id, "yes": True, "min_score": min_score, "limit": limit}
    seen: dict[int, bool] = {}
    for lead_id, fresh in session.execute(sql, params):
        # A lead with two ACTIVE rows (an interrupted older writer) appears twice: stale wins.
        seen[lead_id] = bool(fresh) and seen.get(lead_id, True)
    return list(seen.items())


def expire_active_many(session: Session, *, lead_ids: list[int], prediction_type: str = "CONVERSION") -> None:
    """Expire the ACTIVE predictions of a type for many leads (one statement per 500 ids)."""
    for start in range(0, len(lead_ids), 500):
        batch = lead_ids[start:start + 500]
        session.execute(
            update(Prediction)
            .where(Prediction.lead_id.in_(batch), Prediction.type == prediction_type, Prediction.status == "ACTIVE")
            .values(status="EXPIRED"),
            execution_options={"synchronize_session": False},
        )


def reserve_ids(session: Session, count: int) -> list[int]:
    """`count` new prediction ids, so that each stored document can carry its own predictionId."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text("SELECT nextval(pg_get_serial_sequence('predictions', 'id')) "
                                    "FROM generate_series(1, :n)"), {"n": count})
        return [r[0] for r in rows]
    # SQLite: the write transaction holds the database lock from the expiring UPDATE on, so the
    # ids after the current maximum are ours.
    start = (session.scalar(select(func.max(Prediction.id))) or 0) + 1
    return list(range(start, start + count))


def insert_bulk(session: Session, rows: list[tuple]) -> None:
    """Insert prediction rows (BULK_COLUMNS order; timestamps as epoch ms, payload as JSON text)
    with the driver's executemany in the session's transaction: no ORM objects per row."""
    if not rows:
        return
    connection = session.connection()
    placeholders = ", ".join(["%s" if connection.dialect.name == "postgresql" else "?"] * len(BULK_COLUMNS))
    sql = f"INSERT INTO predictions ({', '.join(BULK_COLUMNS)}) VALUES ({placeholders})"
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def write_bulk(session: Session, *, lead_ids: list[int], make_rows) -> int:
    """Replace the leads' ACTIVE conversion predictions by new ones, in the caller's transaction:
    expire, reserve ids, `make_rows(ids)` builds the rows, insert. Committed together or not at all,
    so a crash never leaves a lead with half a write or two ACTIVE predictions."""
    expire_active_many(session, lead_ids=lead_ids)
    ids = reserve_ids(session, len(lead_ids))
    rows = make_rows(ids)
    insert_bulk(session, rows)
    return len(rows)


def active_payloads(session: Session, *, lead_ids: list[int], prediction_type: str = "CONVERSION"):
    """(lead id, stored document) of the leads' ACTIVE predictions of a type."""
    for start in range(0, len(lead_ids), 500):
        yield from session.execute(
            select(Prediction.lead_id, Prediction.payload)
            .where(Prediction.lead_id.in_(lead_ids[start:start + 500]), Prediction.type == prediction_type,
                   Prediction.status == "ACTIVE")
        ).tuples()
