"""The feature catalogue: every feature's name, category, type and definition, in output order.

docs/features.md is generated from it (`python -m leadml.features.docs`; add `--check` to fail
when the committed file is stale), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from leadml.features import activity_rules as rules

Category = Literal["demographic", "behavioral", "temporal", "engagement"]
Kind = Literal["bool", "int", "float", "category"]
CATEGORIES: tuple[Category, ...] = ("demographic", "behavioral", "temporal", "engagement")
POLARS_TYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "category": pl.String(),
}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    category: Category
    kind: Kind
    definition: str
    values: tuple[str, ...] = ()  # the possible values of a category feature
    nullable: bool = False

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.kind]


def _spec(name, category, kind, definition, values=(), nullable=False) -> FeatureSpec:
    return FeatureSpec(name, category, kind, definition, tuple(values), nullable)


_PATTERN = ("weekday", "weekend", "mixed", rules.NO_ACTIVITY_PATTERN)
FEATURES: tuple[FeatureSpec, ...] = (
    _spec("hasCompany", "demographic", "bool", "A company name is given (trimmed, non-empty)."),
    _spec("hasTitle", "demographic", "bool", "A job title is given (trimmed, non-empty)."),
    _spec("hasPhone", "demographic", "bool", "A phone number is given (trimmed, non-empty)."),
    _spec(
        "emailDomainType",
        "demographic",
        "category",
        "Kind of email domain: `free` webmail (see the list below, with country endings), `edu` "
        "(.edu, .edu.xx, .ac.xx), `government` (.gov, .gov.xx, .gouv.xx, .gob.xx, .go.xx, .mil), "
        "`corporate` otherwise, `unknown` without a usable address.",
        ("free", "edu", "government", "corporate", "unknown"),
    ),
    _spec(
        "titleSeniority",
        "demographic",
        "category",
        "Seniority from the title, first match wins: `c_level` (ceo, cto, cfo, cio, coo, cmo, cro, cpo, "
        'chief, founder, cofounder, president - but "vice president" is `vp`), `vp` (vp, svp, evp, avp, '
        "vice president), `director` (director, head of), `manager` (manager, supervisor, team lead), "
        "`individual` otherwise, `unknown` without a title.",
        ("c_level", "vp", "director", "manager", "individual", "unknown"),
    ),
    _spec(
        "companySizeEstimate",
        "demographic",
        "category",
        "Company size class by the heuristic described below (employee-count attribute, else legal "
        "form and email domain).",
        ("enterprise", "mid_market", "smb", "startup", "unknown"),
    ),
    *(
        _spec(name, "behavioral", "int", f"Inbound `{kind}` activities up to the as-of time.")
        for name, kind in rules.TYPE_COUNT_FEATURES.items()
    ),
    _spec(
        "totalActivities", "behavioral", "int", "All inbound activities up to the as-of time, unknown types included."
    ),
    _spec(
        "activityVelocity",
        "behavioral",
        "float",
        "totalActivities per day of lead age: totalActivities / max(daysSinceCreated, 1).",
    ),
    _spec(
        "channelDiversity",
        "behavioral",
        "int",
        "Distinct channels among the inbound activities, out of: "
        + ", ".join(rules.CHANNELS)
        + " (email = email_sent/open/click, web = page_view, form = "
        "form_submit). Unknown types belong to no channel.",
    ),
    _spec("highValueActionCount", "behavioral", "int", "Inbound meetings + calls + form submits."),
    _spec(
        "daysSinceCreated",
        "temporal",
        "float",
        "Fractional days from created_at to the as-of time (0 when created after it).",
    ),
    _spec(
        "daysSinceLastActivity",
        "temporal",
        "float",
        "Fractional days from the last inbound activity to the as-of time; null without inbound "
        "activity (not the lead's age).",
        nullable=True,
    ),
    _spec(
        "recencyScore",
        "temporal",
        "float",
        "100 * 0.5^(daysSinceLastActivity / 7): a 7-day half-life; 0 without inbound activity.",
    ),
    _spec(
        "activityBurst",
        "temporal",
        "bool",
        "At least 3 inbound activities within one 24-hour window (first to third at most 24 h apart).",
    ),
    _spec(
        "dayPattern",
        "temporal",
        "category",
        "Share of inbound activities on Monday-Friday (config timezone): > 0.8 `weekday`, < 0.2 "
        "`weekend`, else `mixed`; `none` without inbound activity.",
        _PATTERN,
    ),
    _spec(
        "timePattern",
        "temporal",
        "category",
        "Share of inbound activities from 9:00 to 17:59 local time (any day): > 0.7 `business_hours`, "
        "< 0.3 `after_hours`, else `mixed`; `none` without inbound activity.",
        ("business_hours", "after_hours", "mixed", rules.NO_ACTIVITY_PATTERN),
    ),
    _spec(
        "emailOpenRate",
        "engagement",
        "float",
        "Inbound email opens / outbound `email_sent`; null when no email was sent (not capped: "
        "repeated opens can exceed 1).",
        nullable=True,
    ),
    _spec(
        "emailClickRate",
        "engagement",
        "float",
        "Inbound email clicks / outbound `email_sent`; null when no email was sent.",
        nullable=True,
    ),
    _spec(
        "emailSentCount",
        "engagement",
        "int",
        "Outbound `email_sent` up to the as-of time: the denominator of the two rates (not engagement "
        'itself; it tells "never emailed" from "emailed, no reaction").',
    ),
    _spec(
        "sequenceEngagement",
        "engagement",
        "float",
        "(sequence step + 1) / sequence total steps (step counted from 0), clipped to [0, 1]; 0 without a sequence.",
    ),
    _spec(
        "avgResponseTime",
        "engagement",
        "float",
        "Mean hours from each outbound touch to the next inbound activity strictly after it (both up "
        "to the as-of time); touches not yet answered are left out; null when no touch was answered.",
        nullable=True,
    ),
    _spec("isInActiveSequence", "engagement", "bool", "The lead is enrolled in an active nurture sequence."),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}
