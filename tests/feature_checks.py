"""Helpers for the feature tests: run both feature paths and insist they agree."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from leadml.features import (
    activities_frame,
    extract_feature_table,
    extract_features,
    flatten,
    infer_attribute_kinds,
    leads_frame,
)
from leadml.features.inputs import ActivityInput, LeadInput


def same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b and type(a) is type(b)


def assert_rows_agree(single: Mapping[str, Any], row: Mapping[str, Any], context: str = "") -> None:
    assert set(single) == set(row) - {"lead_id"}, context
    diffs = {k: (single[k], row[k]) for k in single if not same_value(single[k], row[k])}
    assert not diffs, f"{context} one-lead vs table differ: {diffs}"


def both_paths(
    lead: LeadInput,
    activities: Sequence[ActivityInput],
    *,
    as_of: datetime,
    timezone: str = "UTC",
    attribute_kinds: Mapping[str, str] | None = None,
    custom_attributes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Flat features of one lead from both paths (asserted equal); returns the one-lead result.

    Attribute kinds default to those inferred from the lead itself, given to both paths.
    """
    kinds = dict(attribute_kinds) if attribute_kinds is not None else infer_attribute_kinds([lead.attributes])
    single = flatten(
        extract_features(
            lead,
            activities,
            as_of=as_of,
            timezone=timezone,
            custom_attributes=custom_attributes,
            attribute_kinds=kinds,
        )
    )
    table = extract_feature_table(
        leads_frame({1: lead}, attribute_kinds=kinds),
        activities_frame({1: activities}),
        as_of=as_of,
        timezone=timezone,
        custom_attributes=custom_attributes,
        attribute_kinds=kinds,
    )
    assert table.height == 1
    assert_rows_agree(single, table.row(0, named=True))
    return single
