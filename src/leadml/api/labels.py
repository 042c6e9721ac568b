"""Readable labels for feature names (the seed's feature importance carries one beside `name`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from leadml.features.attributes import CUSTOM_PREFIX

# Where splitting the camelCase name would read poorly.
SPECIAL = {
    "avgResponseTime": "Average response time (hours)",
    "daysSinceLastActivity": "Days since last activity",
    "emailDomainType": "Email domain type",
    "isInActiveSequence": "In an active nurture sequence",
    "activityVelocity": "Activities per day",
    "channelDiversity": "Channels used",
    "highValueActionCount": "High-value actions",
}


def label(name: str) -> str:
    if name in SPECIAL:
        return SPECIAL[name]
    if name.startswith(CUSTOM_PREFIX):
        return f"{name[len(CUSTOM_PREFIX):]} (custom attribute)"
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    if not words:
        return name
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[0].upper() + text[1:]


def with_labels(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "label": row.get("label") or label(str(row.get("name", "")))} for row in rows]
