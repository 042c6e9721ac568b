"""Validated shapes of what users send: one lead, one activity, one outcome.

The API uses them as request bodies and the CLI validates each file row with them, so both entry
points accept and refuse exactly the same things.
"""

from __future__ import annotations

import json
import math
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


# Limits that keep every value storable on SQLite and PostgreSQL and every response bounded.
MAX_ID = 2**31 - 1  # ids are INTEGER columns (32-bit on PostgreSQL)
MAX_OFFSET = MAX_INT = 2**63 - 1  # offsets and integer attribute values fit a signed 64-bit integer
MIN_YEAR, MAX_YEAR = 1900, 2200  # any real CRM date; far from the limits of datetime arithmetic
MAX_ATTRIBUTES_BYTES = 32 * 1024  # a lead's custom attributes, as JSON
MAX_DATA_BYTES = 16 * 1024  # an activity's free-form data, as JSON
MAX_DATA_DEPTH = 8
MAX_AMOUNT = 1e15  # pipeline and outcome values


def _moment(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"date must be within the years {MIN_YEAR}-{MAX_YEAR}")
    return value


Moment = Annotated[datetime, AfterValidator(_moment)]


def check_text(text: str, where: str = "") -> None:
    """Text must be storable: no NUL (PostgreSQL refuses it) and valid Unicode (no lone surrogates)."""
    if "\x00" in text:
        raise ValueError(f"text{where} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"text{where} must be valid Unicode (a lone surrogate was sent)") from None


def check_plain_json(value: Any, *, depth: int = 0, max_depth: int = MAX_DATA_DEPTH, path: str = "") -> None:
    """Finite numbers, storable text and bounded nesting, all the way down."""
    if depth > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path or 'value'} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ValueError(f"{path or 'value'} is outside the 64-bit integer range")
    if isinstance(value, str):
        check_text(value, f" at {path}" if path else "")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("object keys must be text")
            check_text(key, f" at {path}" if path else "")
            check_plain_json(item, depth=depth + 1, max_depth=max_depth, path=f"{path}.{key[:40]}" if path else key[:40])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain_json(item, depth=depth + 1, max_depth=max_depth, path=f"{path}[{index}]")


def _bounded_json(limit: int):
    def check(value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        check_plain_json(value)
        if len(json.dumps(value, ensure_ascii=False).encode()) > limit:
            raise ValueError(f"at most {limit // 1024} KB of JSON")
        return value

    return check


Email = Annotated[Annotated[str, StringConstraints(max_length=320)] | None, AfterValidator(_email)]
# Lengths match the columns (name/company/title 300; source/medium/campaign/event id 200).
# (The length applies to the text as sent; blank text then becomes None.)
Text = Annotated[Annotated[str, StringConstraints(max_length=300)] | None, AfterValidator(_blank_to_none)]
ShortText = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, AfterValidator(_blank_to_none)]
Phone = Annotated[Annotated[str, StringConstraints(max_length=64)] | None, AfterValidator(_blank_to_none)]
LeadRef = Annotated[int | None, Field(default=None, ge=1, le=MAX_ID)]
AttributeValue = (Annotated[str, StringConstraints(max_length=2000)] | Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
                  | Annotated[float, Field(allow_inf_nan=False)] | bool | None)
ACTIVITY_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,49}$")


def _activity_type(value: str) -> str:
    value = value.strip().lower()
    if not ACTIVITY_TYPE_RE.match(value):
        raise ValueError("type must be a short lowercase name such as page_view (letters, digits, _ . : -)")
    return value


ActivityType = Annotated[str, AfterValidator(_activity_type)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        # Every string a user sends, keys included, must be storable (the CLI's files come here too).
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(key, str):
                    check_text(key)
                if isinstance(value, str):
                    check_text(value, f" in {key}")
                elif isinstance(value, list):
                    for item in value:
                        if isinstance(item, str):
                            check_text(item, f" in {key}")
        return data


class SequenceIn(CamelModel):
    name: str = Field(min_length=1, max_length=200)
    step: int = Field(default=0, ge=0, le=100_000)
    total_steps: int = Field(ge=1, le=100_000)
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
    external_id: ShortText = None
    name: Text = None
    company: Text = None
    phone: Phone = None
    title: Text = None
    pipeline_stage: Annotated[str, StringConstraints(max_length=100)] | None = None
    pipeline_value: float | None = Field(default=None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)
    is_active: bool | None = None
    sequence: SequenceIn | None = None

    @model_validator(mode="after")
    def _no_nan_attributes(self):
        attributes = getattr(self, "attributes", None) or {}
        for key, value in attributes.items():
            if isinstance(value, float) and value != value:  # NaN is "missing", not a value
                raise ValueError(f"attribute {key!r} is NaN; omit it instead")
        check_plain_json(attributes, max_depth=1)
        if len(json.dumps(attributes, ensure_ascii=False).encode()) > MAX_ATTRIBUTES_BYTES:
            raise ValueError(f"attributes take at most {MAX_ATTRIBUTES_BYTES // 1024} KB as JSON")
        return self


class LeadIn(_LeadFields):
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=500)
    created_at: Moment | None = None
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
    lead_id: LeadRef = None
    lead_email: Email = None
    lead_external_id: ShortText = None
    type: ActivityType
    occurred_at: Moment
    direction: Literal["inbound", "outbound"] | None = None
    event_id: ShortText = None
    source: ShortText = None
    medium: ShortText = None
    campaign: ShortText = None
    data: Annotated[dict[str, Any] | None, AfterValidator(_bounded_json(MAX_DATA_BYTES))] = None

    @model_validator(mode="after")
    def _needs_lead(self):
        if self.lead_id is None and self.lead_email is None and self.lead_external_id is None:
            raise ValueError("an activity needs leadId, leadEmail or leadExternalId")
        return self


class OutcomeIn(CamelModel):
    status: Literal["converted", "lost", "open"]
    at: Moment | None = None
    value: float | None = Field(default=None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)


class OutcomeRow(OutcomeIn):
    """An outcome in an import file, naming its lead."""

    lead_id: LeadRef = None
    lead_email: Email = None
    lead_external_id: ShortText = None

    @model_validator(mode="after")
    def _needs_lead(self):
        if self.lead_id is None and self.lead_email is None and self.lead_external_id is None:
            raise ValueError("an outcome needs leadId, leadEmail or leadExternalId")
        return self


def is_known_type(activity_type: str) -> bool:
    return activity_type in KNOWN_ACTIVITY_TYPES
