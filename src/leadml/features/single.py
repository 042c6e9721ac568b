"""Features for one lead (the API path): plain Python over one lead's activities.

`extract_feature_table` in table.py computes the same features for many leads at once; the two
must agree (tests check every feature on random histories).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadml.features import activity_rules as rules
from leadml.features.attributes import (
    CUSTOM_PREFIX,
    AttributeKind,
    coerce_attribute,
    employee_count_attributes,
    natural_kind,
)
from leadml.features.catalogue import CATEGORIES, FEATURES
from leadml.features.inputs import ActivityInput, LeadInput
from leadml.features.profile import (
    company_size_estimate,
    email_domain_type,
    size_from_employee_value,
    title_seniority,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _given(text: str | None) -> bool:
    return text is not None and text.strip() != ""


def extract_features(
    lead: LeadInput,
    activities: Sequence[ActivityInput],
    *,
    as_of: datetime,
    timezone: str = "UTC",
    custom_attributes: Sequence[str] | None = None,
    attribute_kinds: Mapping[str, AttributeKind] | None = None,
) -> dict[str, dict[str, Any]]:
    """All features of one lead as of `as_of`, grouped by category (+ "custom").

    Custom attributes: `custom_attributes` names them; by default the keys of `attribute_kinds`,
    else every attribute of the lead. `attribute_kinds` (decided across leads, see attributes.py)
    fixes how each value is coerced; without it numbers/booleans are numeric, the rest text.
    """
    as_of_ms = rules.to_millis(as_of)
    zone = ZoneInfo(timezone)
    grouped: dict[str, dict[str, Any]] = {category: {} for category in CATEGORIES}
    values = {
        **_demographic(lead, attribute_kinds),
        **_activity_features(lead, activities, as_of_ms, zone),
    }
    for spec in FEATURES:
        grouped[spec.category][spec.name] = values[spec.name]
    grouped["custom"] = _custom(lead.attributes, custom_attributes, attribute_kinds)
    return grouped


def flatten(grouped: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Flat feature name -> value; custom attributes become "custom.<attribute name>"."""
    flat: dict[str, Any] = {}
    for category, features in grouped.items():
        for name, value in features.items():
            flat[f"{CUSTOM_PREFIX}{name}" if category == "custom" else name] = value
    return flat


def _demographic(lead: LeadInput, kinds: Mapping[str, AttributeKind] | None) -> dict[str, Any]:
    employee_value = None
    for name in employee_count_attributes(lead.attributes):
        value = lead.attributes[name]
        if kinds and name in kinds:
            value = coerce_attribute(value, kinds[name])
        if size_from_employee_value(value) is not None:
            employee_value = value
            break
    return {
        "hasCompany": _given(lead.company),
        "hasTitle": _given(lead.title),
        "hasPhone": _given(lead.phone),
        "emailDomainType": email_domain_type(lead.email),
        "titleSeniority": title_seniority(lead.title),
        "companySizeEstimate": company_size_estimate(lead.company, lead.email, employee_value),
    }


def _activity_features(lead: LeadInput, activities: Sequence[ActivityInput], as_of_ms: int, zone: ZoneInfo) -> dict:
    inbound: list[tuple[int, str]] = []
    outbound: list[tuple[int, str]] = []
    for activity in activities:
        occurred_ms = rules.to_millis(activity.occurred_at)
        if occurred_ms > as_of_ms:  # no look-ahead
            continue
        kind = rules.normalize_type(activity.type)
        side = inbound if rules.normalize_direction(activity.direction, kind) == rules.INBOUND else outbound
        side.append((occurred_ms, kind))
    inbound.sort()
    inbound_times = [t for t, _ in inbound]
    total = len(inbound)
    type_counts: dict[str, int] = {}
    for _, kind in inbound:
        type_counts[kind] = type_counts.get(kind, 0) + 1

    days_since_created = max(as_of_ms - rules.to_millis(lead.created_at), 0) / rules.DAY_MS
    days_since_last = (as_of_ms - inbound_times[-1]) / rules.DAY_MS if inbound else None
    local_times = [(_EPOCH + timedelta(milliseconds=t)).astimezone(zone) for t in inbound_times]
    weekdays = sum(1 for moment in local_times if moment.weekday() < 5)
    business = sum(1 for moment in local_times if moment.hour in rules.BUSINESS_HOURS)
    sends = sum(1 for _, kind in outbound if kind == "email_sent")

    # Each outbound touch answered by an inbound activity strictly after it (up to as_of).
    waits = []
    for touched_ms, _ in outbound:
        i = bisect_right(inbound_times, touched_ms)
        if i < total:
            waits.append(inbound_times[i] - touched_ms)

    features: dict[str, Any] = {name: type_counts.get(kind, 0) for name, kind in rules.TYPE_COUNT_FEATURES.items()}
    features.update(
        totalActivities=total,
        activityVelocity=total / max(days_since_created, 1.0),
        channelDiversity=len({rules.CHANNEL_OF_TYPE[k] for k in type_counts if k in rules.CHANNEL_OF_TYPE}),
        highValueActionCount=rules.high_value_count(lambda name: type_counts.get(rules.TYPE_COUNT_FEATURES[name], 0)),
        daysSinceCreated=days_since_created,
        daysSinceLastActivity=days_since_last,
        recencyScore=rules.recency_score(days_since_last),
        activityBurst=any(
            inbound_times[i + rules.BURST_MIN_ACTIVITIES - 1] - inbound_times[i] <= rules.BURST_WINDOW_MS
            for i in range(total - rules.BURST_MIN_ACTIVITIES + 1)
        ),
        dayPattern=rules.share_pattern(weekdays, total, rules.WEEKDAY_HIGH, rules.WEEKDAY_LOW, ("weekday", "weekend")),
        timePattern=rules.share_pattern(
            business, total, rules.BUSINESS_HIGH, rules.BUSINESS_LOW, ("business_hours", "after_hours")
        ),
        emailOpenRate=type_counts.get("email_open", 0) / sends if sends else None,
        emailClickRate=type_counts.get("email_click", 0) / sends if sends else None,
        emailSentCount=sends,
        sequenceEngagement=rules.sequence_engagement(lead.sequence_step, lead.sequence_total),
        avgResponseTime=(sum(waits) / len(waits)) / rules.HOUR_MS if waits else None,
        isInActiveSequence=bool(lead.sequence_active),
    )
    return features


def _custom(
    attributes: Mapping[str, Any],
    names: Sequence[str] | None,
    kinds: Mapping[str, AttributeKind] | None,
) -> dict[str, Any]:
    if names is None:
        names = list(kinds) if kinds else sorted(attributes)
    custom = {}
    for name in names:
        value = attributes.get(name)
        kind = kinds[name] if kinds and name in kinds else natural_kind(value)
        custom[name] = coerce_attribute(value, kind)
    return custom
