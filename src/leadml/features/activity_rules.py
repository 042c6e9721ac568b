"""Shared definitions for activity-based features (behavioral, temporal, engagement).

Both feature paths take their constants from here, so a threshold changed in one place changes
both. Times are integer milliseconds since the epoch (UTC) in both paths, which keeps every
difference exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadml.features.inputs import default_direction
from leadml.features.twin import SCALAR, Ops

INBOUND = "inbound"
OUTBOUND = "outbound"

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Which engagement channel each known activity type belongs to. Unknown types count as activity
# but belong to no channel.
CHANNEL_OF_TYPE = {
    "email_sent": "email",
    "email_open": "email",
    "email_click": "email",
    "page_view": "web",
    "form_submit": "form",
    "meeting": "meeting",
    "call": "call",
}
CHANNELS = ("email", "web", "form", "meeting", "call")

# Per-type inbound counts: feature name -> activity type.
TYPE_COUNT_FEATURES = {
    "emailOpenCount": "email_open",
    "emailClickCount": "email_click",
    "pageViewCount": "page_view",
    "formSubmitCount": "form_submit",
    "meetingCount": "meeting",
    "callCount": "call",
}
HIGH_VALUE_TYPES = ("meeting", "call", "form_submit")

RECENCY_HALF_LIFE_DAYS = 7.0
BURST_MIN_ACTIVITIES = 3
BURST_WINDOW_MS = DAY_MS  # 3+ inbound activities with the first and third at most 24 h apart
BUSINESS_HOURS = range(9, 18)  # 9:00-17:59 local
# Pattern cut-offs as exact fractions (numerator, denominator) so both paths compare integers.
WEEKDAY_HIGH = (4, 5)  # share > 0.8 -> "weekday"
WEEKDAY_LOW = (1, 5)  # share < 0.2 -> "weekend"
BUSINESS_HIGH = (7, 10)  # share > 0.7 -> "business_hours"
BUSINESS_LOW = (3, 10)  # share < 0.3 -> "after_hours"
NO_ACTIVITY_PATTERN = "none"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_millis(moment: datetime) -> int:
    """Exact integer milliseconds since the epoch (floor), for a timezone-aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where a timezone-aware one is required")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def normalize_type(activity_type: str | None) -> str:
    return (activity_type or "").strip().lower()


def normalize_direction(direction: str | None, activity_type: str) -> str:
    """`inbound` / `outbound`; anything else (missing, misspelt) falls back to the type's default."""
    text = (direction or "").strip().lower()
    if text in (INBOUND, OUTBOUND):
        return text
    return default_direction(activity_type)


def share_pattern(hits, total, high: tuple[int, int], low: tuple[int, int], names: tuple[str, str], ops: Ops = SCALAR):
    """names[0] when hits/total > high, names[1] when < low, else "mixed"; "none" without data.

    Integer cross-multiplication, so both paths compare exactly."""
    return ops.where(
        total == 0,
        NO_ACTIVITY_PATTERN,
        lambda: ops.where(hits * high[1] > total * high[0], names[0],
                          lambda: ops.where(hits * low[1] < total * low[0], names[1], "mixed")),
    )


def recency_score(days_since_last, ops: Ops = SCALAR):
    """100 * 0.5^(days / 7): 100 today, halving every 7 days; 0 for a lead that never engaged."""
    return ops.if_null(days_since_last, 0.0, lambda days: 100.0 * ops.power(0.5, days / RECENCY_HALF_LIFE_DAYS))


def sequence_engagement(step, total, ops: Ops = SCALAR):
    """(step + 1) / total steps, within [0, 1]; 0 when not in a sequence with known steps."""
    known = ops.both(ops.both(ops.not_null(step), lambda: ops.not_null(total)), lambda: total > 0)
    return ops.where(known, lambda: ops.clip((step + 1) / total, 0.0, 1.0), 0.0)


def high_value_count(type_counts, ops: Ops = SCALAR):
    """Meetings + calls + forms (HIGH_VALUE_TYPES), from the per-type count features."""
    total = 0
    for feature, kind in TYPE_COUNT_FEATURES.items():
        if kind in HIGH_VALUE_TYPES:
            total = total + type_counts(feature)
    return total
