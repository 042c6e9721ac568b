"""Ingestion use cases shared by the API and the CLI.

Each call is all-or-nothing: every problem in the batch is collected into one InvalidInput whose
details list `{index, field, message}` per refused row, and nothing is written. Callers that want
row-by-row import (the CLI) drop the refused rows and call again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.features.inputs import default_direction
from leadml.ingest.schemas import ActivityIn, LeadIn, LeadPatch, OutcomeIn, OutcomeRow
from leadml.storage import leads as lead_store
from leadml.storage.tables import Activity, Lead, ScoringConfig


@dataclass
class UpsertResult:
    leads: list[Lead]
    created: int
    updated: int


@dataclass
class ActivityResult:
    accepted: int
    duplicates: int


def aware(value: datetime | None, timezone: str) -> datetime | None:
    """Naive timestamps are read in the config's timezone (what a CRM export usually means)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def _row_error(index: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def upsert_leads(session: Session, *, config: ScoringConfig, rows: list[LeadIn]) -> UpsertResult:
    """Create or update leads matched by externalId, else by email, within one config."""
    now = datetime.now(UTC)
    existing = lead_store.find_by_identity(
        session,
        config_id=config.id,
        emails=[r.email for r in rows if r.email],
        external_ids=[r.external_id for r in rows if r.external_id],
    )
    by_email = {lead.email: lead for lead in existing if lead.email}
    by_external = {lead.external_id: lead for lead in existing if lead.external_id}
    problems: list[dict[str, Any]] = []
    # Pass 1 resolves every row to a lead (existing or new) without changing anything, so a refused
    # batch leaves no trace; later rows of the same batch see the identities of earlier ones.
    plan: list[tuple[Lead, LeadIn, dict[str, Any] | None]] = []
    new_leads: list[Lead] = []
    for index, row in enumerate(rows):
        match_x = by_external.get(row.external_id) if row.external_id else None
        match_e = by_email.get(row.email) if row.email else None
        if match_x is not None and match_e is not None and match_x is not match_e:
            problems.append(_row_error(index, "email and externalId belong to two different leads", "email"))
            continue
        lead = match_x or match_e
        if lead is None:
            lead = Lead(tenant_id=config.tenant_id, config_id=config.id, tags=[], attributes={},
                        created_at=now, updated_at=now, is_active=True, sequence_active=False,
                        outcome_status="open", email=row.email, external_id=row.external_id)
            new_leads.append(lead)
        outcome = None
        if row.outcome is not None:
            outcome = _plan_outcome(lead, row, config=config, new=lead.id is None, now=now)
            if isinstance(outcome, str):
                problems.append(_row_error(index, outcome, "outcome.at"))
                continue
        if row.email:
            by_email[row.email] = lead
        if row.external_id:
            by_external[row.external_id] = lead
        plan.append((lead, row, outcome))
    if problems:
        raise errors.InvalidInput("some leads were refused; nothing was stored", details=problems)
    for lead, row, outcome in plan:
        _apply_lead_fields(lead, row, config=config, fields=row.model_fields_set, now=now)
        if outcome is not None:
            lead.created_at = outcome["created_at"]
            lead.outcome_status, lead.outcome_at = outcome["status"], outcome["at"]
            lead.outcome_value, lead.snapshot = outcome["value"], outcome["snapshot"]
    session.add_all(new_leads)
    session.flush()
    touched = {id(lead) for lead, _, _ in plan}
    return UpsertResult(leads=[lead for lead, _, _ in plan], created=len(new_leads),
                        updated=len(touched) - len(new_leads))


def _plan_outcome(lead: Lead, row: LeadIn, *, config: ScoringConfig, new: bool, now: datetime) -> dict[str, Any] | str:
    """What an outcome sent with a lead changes, or why it is refused (nothing is changed here).

    A lead created with its outcome (or already a snapshot) is a snapshot: without a creation date
    it is created at its close date, else at the import time, and a closed lead without a close
    date closed when it was created. An outcome sent for an existing live lead is recorded as
    POST /leads/{id}/outcome records it (at defaults to now).
    """
    outcome = row.outcome
    created_given = aware(row.created_at, config.timezone)
    at_given = aware(outcome.at, config.timezone)
    closed = outcome.status != "open"
    if new or lead.snapshot is not None:
        created = created_given or (at_given if closed else None) or (now if new else lead.created_at)
        at = (at_given or created) if closed else None
        given = (created_given is not None) + (at_given is not None and closed)
        snapshot = ("undated", "dated", "timed")[given] if closed else None
    else:
        created = created_given or lead.created_at
        at = (at_given or now) if closed else None
        snapshot = None
    if at is not None and at < created:
        return f"outcome time {at.isoformat()} is before the lead was created ({created.isoformat()})"
    return {"created_at": created, "status": outcome.status, "at": at, "value": outcome.value, "snapshot": snapshot}


def _apply_lead_fields(lead: Lead, row: LeadIn | LeadPatch, *, config: ScoringConfig, fields: set[str], now: datetime) -> None:
    for name in ("email", "external_id", "name", "company", "phone", "title", "pipeline_stage", "pipeline_value"):
        if name in fields:
            setattr(lead, name, getattr(row, name))
    if "tags" in fields and row.tags is not None:
        lead.tags = list(row.tags)
    if "attributes" in fields and row.attributes is not None:
        # Merge: a partial update never erases attributes it does not mention; null removes one.
        merged = dict(lead.attributes or {})
        for key, value in row.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        lead.attributes = merged
    if "is_active" in fields and row.is_active is not None:
        lead.is_active = row.is_active
    if "sequence" in fields:
        seq = row.sequence
        lead.sequence_name = seq.name if seq else None
        lead.sequence_step = seq.step if seq else None
        lead.sequence_total = seq.total_steps if seq else None
        lead.sequence_active = bool(seq and seq.active)
    if isinstance(row, LeadIn) and "created_at" in fields and row.created_at is not None:
        lead.created_at = aware(row.created_at, config.timezone)
    lead.updated_at = now


def update_lead(session: Session, *, lead: Lead, config: ScoringConfig, patch: LeadPatch) -> Lead:
    fields = patch.model_fields_set
    for name, label in (("email", "email"), ("external_id", "externalId")):
        value = getattr(patch, name)
        if name in fields and value is not None:
            others = lead_store.find_by_identity(
                session, config_id=config.id,
                emails=[value] if name == "email" else [], external_ids=[value] if name == "external_id" else [],
            )
            if any(other.id != lead.id for other in others):
                raise errors.Conflict(f"{label} already belongs to another lead", details={"field": label})
    new_email = patch.email if "email" in fields else lead.email
    new_external = patch.external_id if "external_id" in fields else lead.external_id
    if new_email is None and new_external is None:
        raise errors.InvalidInput("a lead needs an email or an externalId")
    _apply_lead_fields(lead, patch, config=config, fields=fields, now=datetime.now(UTC))
    session.flush()
    return lead


def add_activities(session: Session, *, config: ScoringConfig, rows: list[ActivityIn]) -> ActivityResult:
    """Store activities; a repeated eventId (in the database or earlier in the batch) is stored once."""
    ids = {r.lead_id for r in rows if r.lead_id is not None}
    leads = lead_store.find_by_identity(
        session, config_id=config.id,
        emails=[r.lead_email for r in rows if r.lead_email and r.lead_id is None],
        external_ids=[r.lead_external_id for r in rows if r.lead_external_id and r.lead_id is None],
    )
    by_email = {lead.email: lead.id for lead in leads if lead.email}
    by_external = {lead.external_id: lead.id for lead in leads if lead.external_id}
    valid_ids = _lead_ids_in_config(session, config_id=config.id, lead_ids=ids)
    seen = lead_store.existing_event_ids(session, config_id=config.id, event_ids=[r.event_id for r in rows if r.event_id])
    problems: list[dict[str, Any]] = []
    to_insert: list[dict[str, Any]] = []
    duplicates = 0
    for index, row in enumerate(rows):
        if row.lead_id is not None:
            lead_id = row.lead_id if row.lead_id in valid_ids else None
        elif row.lead_external_id is not None:
            lead_id = by_external.get(row.lead_external_id)
        else:
            lead_id = by_email.get(row.lead_email)
        if lead_id is None:
            problems.append(_row_error(index, "no such lead in this config", "lead"))
            continue
        if row.event_id is not None:
            if row.event_id in seen:
                duplicates += 1
                continue
            seen.add(row.event_id)
        to_insert.append({
            "config_id": config.id, "lead_id": lead_id, "type": row.type,
            "occurred_at": aware(row.occurred_at, config.timezone),
            "direction": row.direction or default_direction(row.type),
            "source": row.source, "medium": row.medium, "campaign": row.campaign,
            "data": row.data, "event_id": row.event_id,
        })
    if problems:
        raise errors.InvalidInput("some activities were refused; nothing was stored", details=problems)
    if to_insert:
        session.execute(insert(Activity), to_insert)
    return ActivityResult(accepted=len(to_insert), duplicates=duplicates)


def _lead_ids_in_config(session: Session, *, config_id: int, lead_ids: set[int]) -> set[int]:
    found: set[int] = set()
    ids = list(lead_ids)
    for start in range(0, len(ids), 500):
        found.update(session.scalars(select(Lead.id).where(Lead.config_id == config_id, Lead.id.in_(ids[start : start + 500]))))
    return found


def record_outcome(session: Session, *, lead: Lead, config: ScoringConfig, outcome: OutcomeIn) -> Lead:
    at = aware(outcome.at, config.timezone) or datetime.now(UTC)
    if outcome.status != "open" and at < lead.created_at:
        raise errors.InvalidInput(
            "outcome time is before the lead was created",
            details={"at": at.isoformat(), "createdAt": lead.created_at.isoformat()},
        )
    lead.outcome_status = outcome.status
    lead.outcome_at = None if outcome.status == "open" else at
    lead.outcome_value = outcome.value
    lead.updated_at = datetime.now(UTC)
    session.flush()
    return lead


def record_outcomes(session: Session, *, config: ScoringConfig, rows: list[OutcomeRow]) -> int:
    """Outcomes from an import file; all-or-nothing like the other batches."""
    leads = lead_store.find_by_identity(
        session, config_id=config.id,
        emails=[r.lead_email for r in rows if r.lead_email and r.lead_id is None],
        external_ids=[r.lead_external_id for r in rows if r.lead_external_id and r.lead_id is None],
    )
    by_email = {lead.email: lead for lead in leads if lead.email}
    by_external = {lead.external_id: lead for lead in leads if lead.external_id}
    problems: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if row.lead_id is not None:
            lead = session.get(Lead, row.lead_id)
            lead = lead if lead is not None and lead.config_id == config.id else None
        elif row.lead_external_id is not None:
            lead = by_external.get(row.lead_external_id)
        else:
            lead = by_email.get(row.lead_email)
        if lead is None:
            problems.append(_row_error(index, "no such lead in this config", "lead"))
            continue
        try:
            with session.no_autoflush:
                record_outcome(session, lead=lead, config=config, outcome=row)
        except errors.InvalidInput as exc:
            problems.append(_row_error(index, exc.message, "at"))
    if problems:
        raise errors.InvalidInput("some outcomes were refused; nothing was stored", details=problems)
    return len(rows)
