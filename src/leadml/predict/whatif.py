"""What-if edits of a lead's flat feature mapping, for "acceleration opportunities".

Any predictor (rules or trained model) can re-score the edited features and report the change.
The edits keep the derived features consistent (total, velocity, channels, recency), so the
re-scored lead is one that could really exist a moment later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Which count and channel each inbound activity type feeds (SPEC section 4).
ACTIVITY_COUNTS = {
    "email_open": ("emailOpenCount", "email"),
    "email_click": ("emailClickCount", "email"),
    "page_view": ("pageViewCount", "web"),
    "form_submit": ("formSubmitCount", "form"),
    "meeting": ("meetingCount", "meeting"),
    "call": ("callCount", "call"),
}
HIGH_VALUE = frozenset({"form_submit", "meeting", "call"})
CHANNEL_COUNTS = {
    "email": ("emailOpenCount", "emailClickCount"),
    "web": ("pageViewCount",),
    "form": ("formSubmitCount",),
    "meeting": ("meetingCount",),
    "call": ("callCount",),
}


def _num(features: Mapping[str, Any], name: str) -> float:
    value = features.get(name)
    return 0.0 if value is None else float(value)


def with_activity(features: Mapping[str, Any], activity_type: str, count: int = 1) -> dict[str, Any]:
    """The features as they would be right after `count` more inbound activities of this type."""
    if activity_type not in ACTIVITY_COUNTS:
        raise ValueError(f"unknown activity type for a what-if: {activity_type!r}")
    count_name, channel = ACTIVITY_COUNTS[activity_type]
    out = dict(features)
    channel_was_used = any(_num(features, name) > 0 for name in CHANNEL_COUNTS[channel])
    out[count_name] = _num(features, count_name) + count
    out["totalActivities"] = _num(features, "totalActivities") + count
    if activity_type in HIGH_VALUE:
        out["highValueActionCount"] = _num(features, "highValueActionCount") + count
    if not channel_was_used:
        out["channelDiversity"] = min(_num(features, "channelDiversity") + 1, float(len(CHANNEL_COUNTS)))
    out["activityVelocity"] = out["totalActivities"] / max(_num(features, "daysSinceCreated"), 1.0)
    out["daysSinceLastActivity"] = 0.0
    out["recencyScore"] = 100.0
    return out


def with_seniority(features: Mapping[str, Any], seniority: str) -> dict[str, Any]:
    """The features if a contact of this seniority were on the lead (multi-threading the deal)."""
    out = dict(features)
    out["titleSeniority"] = seniority
    out["hasTitle"] = True
    return out
