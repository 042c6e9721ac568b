"""From stored rows to what the pure feature code reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadml.features.inputs import ActivityInput, LeadInput
from leadml.features.single import extract_features
from leadml.storage import leads as lead_store
from leadml.storage.tables import Activity, Lead, ScoringConfig


def lead_input(lead: Lead) -> LeadInput:
    return LeadInput(
        created_at=lead.created_at, email=lead.email, company=lead.company, phone=lead.phone, title=lead.title,
        attributes=dict(lead.attributes or {}), sequence_name=lead.sequence_name, sequence_step=lead.sequence_step,
        sequence_total=lead.sequence_total, sequence_active=bool(lead.sequence_active),
    )


def activity_inputs(rows: Sequence[Activity]) -> list[ActivityInput]:
    return [ActivityInput(type=a.type, occurred_at=a.occurred_at, direction=a.direction) for a in rows]


def activity_inputs_of_lead(session: Session, *, lead_id: int) -> list[ActivityInput]:
    """The lead's activities as feature extraction reads them (three columns, not whole rows)."""
    return [ActivityInput(type=kind, occurred_at=occurred_at, direction=direction)
            for kind, occurred_at, direction in lead_store.activity_facts(session, lead_id=lead_id)]


def custom_attributes(config: ScoringConfig, lead: Lead) -> list[str]:
    """The config's chosen attributes; an empty choice means every attribute the lead has."""
    return list(config.feature_attributes) if config.feature_attributes else sorted((lead.attributes or {}).keys())


def lead_features(session: Session, *, lead: Lead, config: ScoringConfig, as_of: datetime,
                  attribute_kinds: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    activities = activity_inputs_of_lead(session, lead_id=lead.id)
    return extract_features(
        lead_input(lead), activities, as_of=as_of, timezone=config.timezone,
        custom_attributes=custom_attributes(config, lead), attribute_kinds=attribute_kinds,
    )
