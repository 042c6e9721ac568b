"""Build the vectorized-path frames (LEAD_SCHEMA / ACTIVITY_SCHEMA) from one-lead inputs.

Used to score a handful of leads through the table path and by tests that compare the paths.
Times are truncated to whole milliseconds exactly as the one-lead path does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from leadml.features.activity_rules import to_millis
from leadml.features.attributes import AttributeKind, coerce_values, infer_attribute_kinds
from leadml.features.inputs import ACTIVITY_SCHEMA, ATTRIBUTE_PREFIX, LEAD_SCHEMA, ActivityInput, LeadInput


def _datetimes(values: Sequence[datetime | None]) -> pl.Series:
    millis = pl.Series([None if v is None else to_millis(v) for v in values], dtype=pl.Int64)
    return millis.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def leads_frame(
    leads: Mapping[int, LeadInput],
    *,
    attribute_kinds: Mapping[str, AttributeKind] | None = None,
    as_of: Mapping[int, datetime] | None = None,
) -> pl.DataFrame:
    """LEAD_SCHEMA rows for {lead_id: LeadInput} plus one typed ATTRIBUTE_PREFIX column per attribute.

    Attribute kinds default to those inferred across these leads. `as_of` adds the per-lead
    as-of column that `extract_feature_table` reads.
    """
    ids = list(leads)
    items = [leads[i] for i in ids]
    kinds = dict(attribute_kinds) if attribute_kinds is not None else infer_attribute_kinds(x.attributes for x in items)
    columns: dict[str, pl.Series] = {
        "lead_id": pl.Series(ids, dtype=pl.Int64),
        "email": pl.Series([x.email for x in items], dtype=pl.String),
        "company": pl.Series([x.company for x in items], dtype=pl.String),
        "phone": pl.Series([x.phone for x in items], dtype=pl.String),
        "title": pl.Series([x.title for x in items], dtype=pl.String),
        "created_at": _datetimes([x.created_at for x in items]),
        "sequence_name": pl.Series([x.sequence_name for x in items], dtype=pl.String),
        "sequence_step": pl.Series([x.sequence_step for x in items], dtype=pl.Int64),
        "sequence_total": pl.Series([x.sequence_total for x in items], dtype=pl.Int64),
        "sequence_active": pl.Series([bool(x.sequence_active) for x in items], dtype=pl.Boolean),
    }
    assert list(columns) == list(LEAD_SCHEMA)
    columns.update(attribute_series([x.attributes for x in items], kinds))
    if as_of is not None:
        columns["as_of"] = _datetimes([as_of.get(i) for i in ids])
    return pl.DataFrame(columns)


def attribute_series(rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, AttributeKind]) -> dict[str, pl.Series]:
    """One typed ATTRIBUTE_PREFIX column per attribute in `kinds`, coerced from raw values."""
    return {
        ATTRIBUTE_PREFIX + name: coerce_values([row.get(name) for row in rows], kind).alias(ATTRIBUTE_PREFIX + name)
        for name, kind in kinds.items()
    }


def activities_frame(activities: Mapping[int, Sequence[ActivityInput]]) -> pl.DataFrame:
    """ACTIVITY_SCHEMA rows for {lead_id: activities}."""
    lead_ids, types, times, directions = [], [], [], []
    for lead_id, items in activities.items():
        for activity in items:
            lead_ids.append(lead_id)
            types.append(activity.type)
            times.append(activity.occurred_at)
            directions.append(activity.direction)
    return pl.DataFrame(
        {
            "lead_id": pl.Series(lead_ids, dtype=pl.Int64),
            "type": pl.Series(types, dtype=pl.String),
            "occurred_at": _datetimes(times),
            "direction": pl.Series(directions, dtype=pl.String),
        }
    ).cast(ACTIVITY_SCHEMA)
