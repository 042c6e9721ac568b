"""The transparent rules as data: every constant the cold-start predictor uses, in one place.

The seed system added probability points (base 0.15, company +0.08, ...) and clamped the sum to
[0.01, 0.99]; the bonuses of an engaged lead summed far past 1, so scores piled up at the clamps.
Here each seed bonus keeps its size and sign but is read as *log-odds*: a bonus of b points adds
LOG_ODDS_PER_POINT * b to logit(0.15), and the sum is squashed with the sigmoid. One factor for every
rule keeps the seed's ordering of signals (a meeting still outweighs a page view, c-level outweighs
manager). The factor 3 was chosen so that every positive rule together (1.56 points, +4.7 log-odds)
reaches about 0.95 and every negative rule together about 0.05: the probability range is used with
no pile-up at either end.

Two corrections to the seed's rules, both explained where they are defined:
- a lead with no inbound activity at all gets a small penalty (the seed's brand-new lead with a full
  profile came out WARM on profile alone, although nothing showed intent yet);
- "days without engagement" is the days since the last inbound activity, or the lead's age when it
  never engaged (the feature itself is null then, which the seed wrongly filled with the age).

Each term evaluates one lead (`points`) and the whole table (`expr`, a polars expression) the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

BASE_PROBABILITY = 0.15
BASE_LOG_ODDS = math.log(BASE_PROBABILITY / (1.0 - BASE_PROBABILITY))
LOG_ODDS_PER_POINT = 3.0

CATEGORIES = ("demographic", "behavioral", "temporal", "engagement")
# The seed document's weights of the 0-100 score.
CATEGORY_WEIGHTS = {"demographic": 25.0, "behavioral": 35.0, "temporal": 20.0, "engagement": 20.0}

# Confidence = 0.5 + activity + profile + recency, at most 0.95 (see confidence()).
CONFIDENCE_BASE = 0.5
CONFIDENCE_ACTIVITY = 0.20  # times min(totalActivities, 20) / 20
CONFIDENCE_ACTIVITY_SATURATION = 20.0
CONFIDENCE_PROFILE = 0.15  # times the share of the 5 profile facts that are known
CONFIDENCE_RECENCY = 0.10  # times recencyScore / 100
CONFIDENCE_MAX = 0.95

# Days to close (seed constants).
DAYS_BASE = 60.0
DAYS_PER_PROBABILITY = -30.0
DAYS_SENIORITY = {"c_level": -10.0, "vp": -7.0, "director": -5.0}
DAYS_VELOCITY = ((1.0, -10.0), (0.5, -5.0))  # velocity strictly above -> days
DAYS_STALE_AFTER = 14.0
DAYS_STALE = 15.0
DAYS_MIN, DAYS_MAX = 7.0, 180.0
INTERVAL_SPREAD = 0.5  # interval = +-(1 - confidence) * days * 0.5

DECISION_MAKERS = ("c_level", "vp", "director")


# --- reading one lead's flat feature mapping --------------------------------------------------


def flag(features: Mapping[str, Any], name: str) -> bool:
    return bool(features.get(name) or False)


def number(features: Mapping[str, Any], name: str) -> float:
    value = features.get(name)
    return 0.0 if value is None else float(value)


def label(features: Mapping[str, Any], name: str) -> str:
    value = features.get(name)
    return "unknown" if value is None else str(value)


# How category values read in reasons ("seniority: C-level", not "c_level").
PRETTY_VALUES = {"c_level": "C-level", "vp": "VP", "mid_market": "mid-market", "smb": "SMB", "edu": "education",
                 "free": "personal (free webmail)"}


def pretty(value: str) -> str:
    return PRETTY_VALUES.get(value, value.replace("_", " "))


def days_without_engagement(features: Mapping[str, Any]) -> float:
    """Days since the last inbound activity; the lead's age when it never engaged."""
    last = features.get("daysSinceLastActivity")
    return number(features, "daysSinceCreated") if last is None else float(last)


def days_without_engagement_expr() -> pl.Expr:
    return pl.col("daysSinceLastActivity").fill_null(pl.col("daysSinceCreated"))


# --- the terms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A yes/no feature: `points` when true."""

    feature: str
    category: str
    points: float
    text: str

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        on = flag(f, self.feature)
        return [(self.feature, on, self.points if on else 0.0, self.text)]

    def expr(self) -> pl.Expr:
        return pl.when(pl.col(self.feature)).then(self.points).otherwise(0.0)

    def max_points(self) -> float:
        return max(self.points, 0.0)

    def rule(self) -> str:
        return f"`{self.feature}` is true: {self.points:+.2f}"


@dataclass(frozen=True)
class Choice:
    """A categorical feature: points per value, 0 for any other value."""

    feature: str
    category: str
    points: Mapping[str, float]
    text: str  # formatted with {value}

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        value = label(f, self.feature)
        return [(self.feature, value, self.points.get(value, 0.0), self.text.format(value=pretty(value)))]

    def expr(self) -> pl.Expr:
        out: pl.Expr | None = None
        for value, pts in self.points.items():
            cond = pl.col(self.feature) == value
            out = pl.when(cond).then(pts) if out is None else out.when(cond).then(pts)
        return out.otherwise(0.0)  # type: ignore[union-attr]

    def max_points(self) -> float:
        return max([0.0, *self.points.values()])

    def rule(self) -> str:
        return f"`{self.feature}`: " + ", ".join(f"{k} {v:+.2f}" for k, v in self.points.items())


@dataclass(frozen=True)
class AtLeast:
    """A numeric feature reaching a threshold: `points`."""

    feature: str
    category: str
    threshold: float
    points: float
    text: str  # formatted with {value}

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        value = number(f, self.feature)
        pts = self.points if value >= self.threshold else 0.0
        return [(self.feature, value, pts, self.text.format(value=value))]

    def expr(self) -> pl.Expr:
        return pl.when(pl.col(self.feature) >= self.threshold).then(self.points).otherwise(0.0)

    def max_points(self) -> float:
        return max(self.points, 0.0)

    def rule(self) -> str:
        return f"`{self.feature}` >= {self.threshold:g}: {self.points:+.2f}"


@dataclass(frozen=True)
class Scaled:
    """Points proportional to a feature, which is clipped to [0, max_value] first."""

    feature: str
    category: str
    points_at_max: float
    max_value: float
    text: str  # formatted with {value}

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        value = number(f, self.feature)
        share = min(max(value, 0.0), self.max_value) / self.max_value
        return [(self.feature, value, self.points_at_max * share, self.text.format(value=value))]

    def expr(self) -> pl.Expr:
        share = pl.col(self.feature).clip(0.0, self.max_value) / self.max_value
        return self.points_at_max * share

    def max_points(self) -> float:
        return max(self.points_at_max, 0.0)

    def rule(self) -> str:
        return f"`{self.feature}` / {self.max_value:g} x {self.points_at_max:.2f}"


@dataclass(frozen=True)
class CappedCounts:
    """Activity counts times points each, the sum capped; when capped every count is scaled down by
    the same factor so that each activity type's share of the capped total stays exact."""

    category: str
    per_activity: Mapping[str, float]
    cap: float
    texts: Mapping[str, str]  # formatted with {value}

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        raw = {name: max(number(f, name), 0.0) * pts for name, pts in self.per_activity.items()}
        total = sum(raw.values())
        scale = self.cap / total if total > self.cap else 1.0
        return [
            (name, number(f, name), raw[name] * scale, self.texts[name].format(value=number(f, name)))
            for name in self.per_activity
        ]

    def expr(self) -> pl.Expr:
        total: pl.Expr = pl.lit(0.0)
        for name, pts in self.per_activity.items():
            total = total + pl.col(name).clip(lower_bound=0.0) * pts
        return pl.min_horizontal(total, pl.lit(self.cap))

    def max_points(self) -> float:
        return self.cap

    def rule(self) -> str:
        each = ", ".join(f"{k} {v:+.2f}" for k, v in self.per_activity.items())
        return f"per activity: {each}; sum capped at {self.cap:.2f}"


@dataclass(frozen=True)
class Stale:
    """Days without engagement above a tier's limit: that tier's (negative) points, largest first."""

    category: str
    tiers: tuple[tuple[float, float], ...]  # (more than this many days, points), largest days first

    feature = "daysSinceLastActivity"

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        days = days_without_engagement(f)
        pts = next((p for limit, p in self.tiers if days > limit), 0.0)
        never = f.get("daysSinceLastActivity") is None
        text = f"no engagement since creation {days:.0f} days ago" if never else f"no engagement for {days:.0f} days"
        return [("daysSinceLastActivity", f.get("daysSinceLastActivity"), pts, text)]

    def expr(self) -> pl.Expr:
        days = days_without_engagement_expr()
        out = pl.when(days > self.tiers[0][0]).then(self.tiers[0][1])
        for limit, pts in self.tiers[1:]:
            out = out.when(days > limit).then(pts)
        return out.otherwise(0.0)

    def max_points(self) -> float:
        return 0.0

    def rule(self) -> str:
        tiers = ", ".join(f"> {d:g} days {p:+.2f}" for d, p in self.tiers)
        return f"days without engagement (since last inbound activity, else since creation): {tiers}"


@dataclass(frozen=True)
class NoActivity:
    """Correction to the seed: no inbound activity at all is a (small) negative, so a full profile
    alone cannot make a lead WARM."""

    category: str
    points: float

    feature = "totalActivities"

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        total = number(f, "totalActivities")
        return [("totalActivities", total, self.points if total <= 0 else 0.0, "no inbound activity yet")]

    def expr(self) -> pl.Expr:
        return pl.when(pl.col("totalActivities") <= 0).then(self.points).otherwise(0.0)

    def max_points(self) -> float:
        return 0.0

    def rule(self) -> str:
        return f"`totalActivities` is 0: {self.points:+.2f} (not in the seed)"


Term = Flag | Choice | AtLeast | Scaled | CappedCounts | Stale | NoActivity

TERMS: tuple[Term, ...] = (
    # Demographic: who the lead is.
    Flag("hasCompany", "demographic", 0.08, "company known"),
    Flag("hasTitle", "demographic", 0.08, "job title known"),
    Flag("hasPhone", "demographic", 0.04, "phone number known"),
    Choice("emailDomainType", "demographic",
           {"corporate": 0.10, "government": 0.08, "edu": 0.05, "free": -0.05}, "{value} email domain"),
    Choice("titleSeniority", "demographic",
           {"c_level": 0.15, "vp": 0.12, "director": 0.10, "manager": 0.05}, "seniority: {value}"),
    Choice("companySizeEstimate", "demographic",
           {"enterprise": 0.08, "mid_market": 0.05, "startup": 0.03, "smb": 0.02}, "company size: {value}"),
    # Behavioral: what the lead did.
    CappedCounts(
        "behavioral",
        {"emailOpenCount": 0.02, "emailClickCount": 0.05, "pageViewCount": 0.01,
         "formSubmitCount": 0.08, "meetingCount": 0.10, "callCount": 0.06},
        0.25,
        {"emailOpenCount": "{value:.0f} email opens", "emailClickCount": "{value:.0f} email clicks",
         "pageViewCount": "{value:.0f} page views", "formSubmitCount": "{value:.0f} form submissions",
         "meetingCount": "{value:.0f} meetings", "callCount": "{value:.0f} calls"},
    ),
    AtLeast("activityVelocity", "behavioral", 0.5, 0.10, "{value:.2f} activities per day"),
    AtLeast("channelDiversity", "behavioral", 3, 0.08, "active on {value:.0f} channels"),
    NoActivity("behavioral", -0.10),
    # Temporal: when.
    Scaled("recencyScore", "temporal", 0.15, 100.0, "recency score {value:.0f}/100"),
    Flag("activityBurst", "temporal", 0.10, "burst of activity (3+ in 24 hours)"),
    Stale("temporal", ((30.0, -0.25), (14.0, -0.15))),
    # Engagement: how the lead answers our outreach.
    AtLeast("emailOpenRate", "engagement", 0.3, 0.08, "email open rate {value:.0%}"),
    AtLeast("emailClickRate", "engagement", 0.1, 0.10, "email click rate {value:.0%}"),
    Scaled("sequenceEngagement", "engagement", 0.12, 1.0, "{value:.0%} through the nurture sequence"),
    Flag("isInActiveSequence", "engagement", 0.05, "in an active nurture sequence"),
)

# The most points each category can reach (its score share is points / this, clipped to [0, 1]).
CATEGORY_MAX_POINTS = {
    c: sum(t.max_points() for t in TERMS if t.category == c) for c in CATEGORIES
}

FEATURE_CATEGORY = {
    "daysSinceLastActivity": "temporal",
    **{name: t.category for t in TERMS if isinstance(t, CappedCounts) for name in t.per_activity},
    **{t.feature: t.category for t in TERMS if not isinstance(t, CappedCounts)},
}


def rule_weights() -> list[dict[str, Any]]:
    """Feature importance of the rules (for when no model is trained): the largest log-odds change
    each feature can make, as a share of the total."""
    raw: dict[str, float] = {}
    for term in TERMS:
        if isinstance(term, CappedCounts):
            for name, pts in term.per_activity.items():
                raw[name] = pts  # one activity of the type
            continue
        if isinstance(term, Choice):
            size = max(abs(v) for v in term.points.values())
        elif isinstance(term, Stale):
            size = max(abs(p) for _, p in term.tiers)
        else:
            size = abs(term.points if hasattr(term, "points") else term.points_at_max)  # type: ignore[union-attr]
        raw[term.feature] = size
    total = sum(raw.values())
    return sorted(
        ({"name": k, "importance": v / total, "category": FEATURE_CATEGORY.get(k, "temporal")} for k, v in raw.items()),
        key=lambda row: -row["importance"],
    )
