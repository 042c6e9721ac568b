"""Lead lookups, always scoped to a tenant (and usually a config)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage import models as model_store
from leadml.storage.tables import Activity, Lead, ScoringConfig


def get_lead(session: Session, *, tenant_id: int | None, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or (tenant_id is not None and lead.tenant_id != tenant_id):
        raise errors.NotFound(f"lead {lead_id} not found")
    return lead


# The per-prediction reads are built once: building a statement costs more than running it here.
_LEAD_FOR_PREDICTION = (
    select(Lead, ScoringConfig, *model_store.active_columns(Lead.config_id))
    .join(ScoringConfig, ScoringConfig.id == Lead.config_id)
    .where(Lead.id == bindparam("lead_id"))
)
_ACTIVITY_FACTS = (
    select(Activity.type, Activity.occurred_at, Activity.direction)
    .where(Activity.lead_id == bindparam("lead_id"))
    .order_by(Activity.occurred_at)
)


def lead_for_prediction(session: Session, *, tenant_id: int | None,
                        lead_id: int) -> tuple[Lead, ScoringConfig, model_store.ActiveVersions]:
    """The lead, its config and the config's active model versions, in one query."""
    row = session.execute(_LEAD_FOR_PREDICTION, {"lead_id": lead_id}).first()
    if row is None or (tenant_id is not None and row[0].tenant_id != tenant_id):
        raise errors.NotFound(f"lead {lead_id} not found")
    return row[0], row[1], model_store.ActiveVersions(*row[2:])


def list_leads(session: Session, *, config_id: int, limit: int, offset: int) -> tuple[list[Lead], int]:
    total = session.scalar(select(func.count()).select_from(Lead).where(Lead.config_id == config_id)) or 0
    rows = session.scalars(
        select(Lead).where(Lead.config_id == config_id).order_by(Lead.id).limit(limit).offset(offset)
    )
    return list(rows), total


def find_by_identity(
    session: Session, *, config_id: int, emails: Iterable[str], external_ids: Iterable[str]
) -> list[Lead]:
    emails, external_ids = list(set(emails)), list(set(external_ids))
    found: list[Lead] = []
    # Chunk the IN lists: SQLite caps bound parameters per statement.
    for chunk_start in range(0, max(len(emails), len(external_ids), 1), 500):
        e_chunk = emails[chunk_start : chunk_start + 500]
        x_chunk = external_ids[chunk_start : chunk_start + 500]
        conditions = []
        if e_chunk:
            conditions.append(Lead.email.in_(e_chunk))
        if x_chunk:
            conditions.append(Lead.external_id.in_(x_chunk))
        if conditions:
            found.extend(session.scalars(select(Lead).where(Lead.config_id == config_id, or_(*conditions))))
    unique = {lead.id: lead for lead in found}
    return list(unique.values())


def existing_event_ids(session: Session, *, config_id: int, event_ids: Iterable[str]) -> set[str]:
    ids = list(set(event_ids))
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        seen.update(
            session.scalars(
                select(Activity.event_id).where(Activity.config_id == config_id, Activity.event_id.in_(ids[start : start + 500]))
            )
        )
    return seen


def activities_for_lead(session: Session, *, lead_id: int) -> list[Activity]:
    return list(session.scalars(select(Activity).where(Activity.lead_id == lead_id).order_by(Activity.occurred_at)))


def activity_facts(session: Session, *, lead_id: int) -> list[tuple[str, datetime, str]]:
    """(type, occurred_at, direction) of the lead's activities, oldest first: what its features read,
    without loading whole Activity rows."""
    return [tuple(row) for row in session.execute(_ACTIVITY_FACTS, {"lead_id": lead_id})]


def count_leads(session: Session, *, config_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Lead).where(Lead.config_id == config_id)) or 0
