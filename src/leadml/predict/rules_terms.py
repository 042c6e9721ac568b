"""The building blocks of the transparent rules: reading one lead's flat feature mapping, and the
kinds of rule ("terms") the rule table in rules_spec.py is made of.

Each term evaluates one lead (`contributions`, with the reason text for each feature it reads) and
the whole table (`expr`, a polars expression) the same way. Missing or null features count as absent:
false, "unknown", 0 (daysSinceLastActivity stays null: the lead never engaged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from leadml.features.twin import POLARS, SCALAR, Ops

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


def days_without_engagement_formula(days_since_last, days_since_created, ops: Ops = SCALAR):
    """Days since the last inbound activity; the lead's age when it never engaged."""
    return ops.if_null(days_since_last, days_since_created)


def days_without_engagement(features: Mapping[str, Any]) -> float:
    return float(days_without_engagement_formula(features.get("daysSinceLastActivity"),
                                                 number(features, "daysSinceCreated")))


def days_without_engagement_expr() -> pl.Expr:
    return days_without_engagement_formula(pl.col("daysSinceLastActivity"), pl.col("daysSinceCreated"), POLARS)


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

    def min_points(self) -> float:
        return min(self.points, 0.0)

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

    def min_points(self) -> float:
        return min([0.0, *self.points.values()])

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

    def min_points(self) -> float:
        return min(self.points, 0.0)

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

    def min_points(self) -> float:
        return min(self.points_at_max, 0.0)

    def rule(self) -> str:
        return f"`{self.feature}` / {self.max_value:g} x {self.points_at_max:.2f}"


@dataclass(frozen=True)
class CappedCounts:
    """Activity counts times points each, the sum capped. For the reasons, the cap is filled by the
    most valuable activity types first (meetings, then forms, calls, clicks, opens, views): the
    explanation credits the strongest signals, and the contributions still add up to the capped sum."""

    category: str
    per_activity: Mapping[str, float]
    cap: float
    texts: Mapping[str, str]  # formatted with {value}

    def contributions(self, f: Mapping[str, Any]) -> list[tuple[str, Any, float, str]]:
        credited: dict[str, float] = {}
        room = self.cap
        for name, pts in sorted(self.per_activity.items(), key=lambda item: -item[1]):
            credited[name] = min(max(number(f, name), 0.0) * pts, room)
            room -= credited[name]
        return [
            (name, number(f, name), credited[name], self.texts[name].format(value=number(f, name)))
            for name in self.per_activity
        ]

    def points(self, f: Mapping[str, Any]) -> float:
        """The capped sum itself (the credited split above adds up to it up to rounding)."""
        total = 0.0
        for name, pts in self.per_activity.items():
            total = total + max(number(f, name), 0.0) * pts
        return min(total, self.cap)

    def expr(self) -> pl.Expr:
        total: pl.Expr = pl.lit(0.0)
        for name, pts in self.per_activity.items():
            total = total + pl.col(name).clip(lower_bound=0.0) * pts
        return pl.min_horizontal(total, pl.lit(self.cap))

    def max_points(self) -> float:
        return self.cap

    def min_points(self) -> float:
        return 0.0

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

    def min_points(self) -> float:
        return min(p for _, p in self.tiers)

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

    def min_points(self) -> float:
        return min(self.points, 0.0)

    def rule(self) -> str:
        return f"`totalActivities` is 0: {self.points:+.2f} (not in the seed)"


Term = Flag | Choice | AtLeast | Scaled | CappedCounts | Stale | NoActivity


def term_points(term: Term, features: Mapping[str, Any]) -> float:
    """A term's total seed points for one lead."""
    if isinstance(term, CappedCounts):
        return term.points(features)
    return term.contributions(features)[0][2]


# --- formulas shared by the one-lead and the table path ------------------------------------------
# Each is written once against `ops` (features/twin.py): SCALAR with Python values for one lead,
# POLARS with column expressions for a table. Constants come from rules_spec.py (imported lazily:
# rules_spec imports this module).


def confidence_formula(total_activities, known_facts, recency, ops: Ops = SCALAR):
    """0.5, plus up to 0.20 for activity (saturating at 20 inbound activities), up to 0.15 for the
    share of the 5 profile facts that are known and up to 0.10 for recency; at most 0.95."""
    from leadml.predict import rules_spec as spec

    activity = ops.clip(total_activities, 0.0, spec.CONFIDENCE_ACTIVITY_SATURATION)
    value = (
        spec.CONFIDENCE_BASE
        + spec.CONFIDENCE_ACTIVITY * (activity / spec.CONFIDENCE_ACTIVITY_SATURATION)
        + spec.CONFIDENCE_PROFILE * (known_facts / 5.0)
        + spec.CONFIDENCE_RECENCY * (ops.clip(recency, 0.0, 100.0) / 100.0)
    )
    return ops.minimum(value, spec.CONFIDENCE_MAX)


def known_facts_formula(has_company, has_title, has_phone, domain_type, size_estimate, ops: Ops = SCALAR):
    """How many of company, title, phone, email domain kind and company size are known (0-5)."""
    return (
        ops.as_float(has_company) + ops.as_float(has_title) + ops.as_float(has_phone)
        + ops.as_float(domain_type != "unknown") + ops.as_float(size_estimate != "unknown")
    )


def seniority_days(seniority, ops: Ops = SCALAR):
    from leadml.predict import rules_spec as spec

    return ops.lookup(seniority, spec.DAYS_SENIORITY, 0.0)


def velocity_days(velocity, ops: Ops = SCALAR):
    from leadml.predict import rules_spec as spec

    (fast, fast_days), (brisk, brisk_days) = spec.DAYS_VELOCITY
    return ops.where(velocity > fast, fast_days, lambda: ops.where(velocity > brisk, brisk_days, 0.0))


def stale_days(days_without, ops: Ops = SCALAR):
    from leadml.predict import rules_spec as spec

    return ops.where(days_without > spec.DAYS_STALE_AFTER, spec.DAYS_STALE, 0.0)


def raw_days_formula(probability, seniority, velocity, days_without, ops: Ops = SCALAR):
    """Seed formula before the limits: 60 - 30p + seniority + velocity + staleness adjustments."""
    from leadml.predict import rules_spec as spec

    return (
        spec.DAYS_BASE + spec.DAYS_PER_PROBABILITY * probability
        + seniority_days(seniority, ops) + velocity_days(velocity, ops) + stale_days(days_without, ops)
    )


def days_formula(probability, seniority, velocity, days_without, ops: Ops = SCALAR):
    """Days to close, kept within [7, 180]."""
    from leadml.predict import rules_spec as spec

    return ops.clip(raw_days_formula(probability, seniority, velocity, days_without, ops), spec.DAYS_MIN, spec.DAYS_MAX)


def interval_formula(days, confidence, ops: Ops = SCALAR):
    """(low, high) = days -+ (1 - confidence) * days * 0.5, the optimistic end at least 7 days."""
    from leadml.predict import rules_spec as spec

    half = (1.0 - confidence) * days * spec.INTERVAL_SPREAD
    return ops.maximum(days - half, spec.DAYS_MIN), days + half


def level_formula(probability, hot: float, warm: float, cold: float, ops: Ops = SCALAR):
    """HOT / WARM / COLD / DEAD: the config's thresholds on probability x 100."""
    pct = probability * 100.0
    return ops.where(pct >= hot, "HOT", lambda: ops.where(pct >= warm, "WARM",
                                                          lambda: ops.where(pct >= cold, "COLD", "DEAD")))

