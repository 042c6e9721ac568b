"""What feature extraction reads: plain data, no ORM, no HTTP.

Two shapes carry the same facts:
- one lead: `LeadInput` plus a sequence of `ActivityInput` (the API path);
- the whole table: polars frames with the columns in LEAD_SCHEMA / ACTIVITY_SCHEMA (training, bulk).
Custom attributes arrive as a dict per lead (one path) or as columns named ATTRIBUTE_PREFIX + name
(vectorized path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

# Activity types the service understands; anything else is kept and counted as generic activity.
KNOWN_ACTIVITY_TYPES = (
    "email_sent",
    "email_open",
    "email_click",
    "page_view",
    "form_submit",
    "meeting",
    "call",
)
# Types that are something we did to the lead, not something the lead did.
OUTBOUND_BY_DEFAULT = frozenset({"email_sent"})

ATTRIBUTE_PREFIX = "attr."


def default_direction(activity_type: str) -> str:
    return "outbound" if activity_type in OUTBOUND_BY_DEFAULT else "inbound"


@dataclass(frozen=True)
class ActivityInput:
    type: str
    occurred_at: datetime  # timezone-aware
    direction: str = "inbound"  # "inbound" (the lead did it) | "outbound" (we did it)


@dataclass(frozen=True)
class LeadInput:
    created_at: datetime  # timezone-aware
    email: str | None = None
    company: str | None = None
    phone: str | None = None
    title: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    sequence_name: str | None = None
    sequence_step: int | None = None
    sequence_total: int | None = None
    sequence_active: bool = False


# Vectorized path. Datetimes are UTC, millisecond precision.
LEAD_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.Int64(),
    "email": pl.String(),
    "company": pl.String(),
    "phone": pl.String(),
    "title": pl.String(),
    "created_at": pl.Datetime("ms", "UTC"),
    "sequence_name": pl.String(),
    "sequence_step": pl.Int64(),
    "sequence_total": pl.Int64(),
    "sequence_active": pl.Boolean(),
}
ACTIVITY_SCHEMA: dict[str, pl.DataType] = {
    "lead_id": pl.Int64(),
    "type": pl.String(),
    "occurred_at": pl.Datetime("ms", "UTC"),
    "direction": pl.String(),
}
