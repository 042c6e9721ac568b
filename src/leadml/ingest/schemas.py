"""Validated shapes of what users send: one lead, one activity, one outcome.

The API uses them as request bodies and the CLI validates each file row with them, so both entry
points accept and refuse exactly the same things.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from leadml.features.inputs import KNOWN_ACTIVITY_TYPES

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not value:
        return None
    if not EMAIL_RE.match(value) or len(value) > 320:
        raise ValueError("not a valid email address")
    return value


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


Email = Annotated[str | None, AfterValidator(_email)]
Text = Annotated[str | None, AfterValidator(_blank_to_none), StringConstraints(max_length=300)]
AttributeValue = str | int | float | bool | None
ACTIVITY_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,49}$")


def _activity_type(value: str) -> str:
    value = value.strip().lower()
    if not ACTIVITY_TYPE_RE.match(value):
        raise ValueError("type must be a short lowercase name such as page_view (letters, digits, _ . : -)")
    return value


ActivityType = Annotated[str, AfterValidator(_activity_type)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SequenceIn(CamelModel):
    name: str = Field(min_length=1, max_length=200)
    step: int = Field(default=0, ge=0)
    total_steps: int = Field(ge=1)
    active: bool = True

    @model_validator(mode="after")
    def _step_in_range(self):
        if self.step > self.total_steps:
            raise ValueError("step must not exceed totalSteps")
        return self


Tag = Annotated[str, StringConstraints(max_length=100)]
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class _LeadFields(CamelModel):
    """What a lead create and a lead update share."""

    email: Email = None
    external_id: Annotated[str | None, AfterValidator(_blank_to_none), StringConstraints(max_length=200)] = None
    name: Text = None
    company: Text = None
    phone: Annotated[str | None, AfterValidator(_blank_to_none), StringConstraints(max_length=64)] = None
    title: Text = None
    pipeline_stage: Annotated[str | None, StringConstraints(max_length=100)] = None
    pipeline_value: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    is_active: bool | None = None
    sequence: SequenceIn | None = None

    @model_validator(mode="after")
    def _no_nan_attributes(self):
        for key, value in (getattr(self, "attributes", None) or {}).items():
            if isinstance(value, float) and value != value:  # NaN is "missing", not a value
                raise ValueError(f"attribute {key!r} is NaN; omit it instead")
        return self


class LeadIn(_LeadFields):
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=500)
    created_at: datetime | None = None
    # The lead's outcome as a CRM export records it: a lead created with one is a snapshot (see
    # docs/model.md); `at` is when it closed (without it, the creation time, or now).
    outcome: OutcomeIn | None = None

    @model_validator(mode="after")
    def _needs_identity(self):
        if self.email is None and self.external_id is None:
            raise ValueError("a lead needs an email or an externalId")
        return self


class LeadPatch(_LeadFields):
    """PATCH /leads/{id}: any subset; identity fields may change but not both be removed."""

    tags: list[Tag] | None = Field(default=None, max_length=100)
    attributes: dict[AttributeName, AttributeValue] | None = Field(default=None, max_length=500)


class ActivityIn(CamelModel):
    lead_id: int | None = Field(default=None, ge=1)
    lead_email: Email = None
    lead_external_id: Annotated[str | None, AfterValidator(_blank_to_none)] = None
    type: ActivityType
    occurred_at: datetime
    direction: Literal["inbound", "outbound"] | None = None
    event_id: Annotated[str | None, AfterValidator(_blank_to_none), StringConstraints(max_length=200)] = None
    source: Text = None
    medium: Text = None
    campaign: Text = None
    data: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _needs_lead(self):
        if self.lead_id is None and self.lead_email is None and self.lead_external_id is None:
            raise ValueError("an activity needs leadId, leadEmail or leadExternalId")
        return self


class OutcomeIn(CamelModel):
    status: Literal["converted", "lost", "open"]
    at: datetime | None = None
    value: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class OutcomeRow(OutcomeIn):
    """An outcome in an import file, naming its lead."""

    lead_id: int | None = Field(default=None, ge=1)
    lead_email: Email = None
    lead_external_id: Annotated[str | None, AfterValidator(_blank_to_none)] = None

    @model_validator(mode="after")
    def _needs_lead(self):
        if self.lead_id is None and self.lead_email is None and self.lead_external_id is None:
            raise ValueError("an outcome needs leadId, leadEmail or leadExternalId")
        return self


def is_known_type(activity_type: str) -> bool:
    return activity_type in KNOWN_ACTIVITY_TYPES
