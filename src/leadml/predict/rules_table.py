"""The rule predictor for a whole table of leads at once, in polars expressions.

Same rules and constants as the one-lead path (rules_spec.py), so the numbers agree with
`predict_rules` lead by lead; only the narrative parts (reasons, risks, recommendations) are left to
the one-lead path.
"""

from __future__ import annotations

import polars as pl

from leadml.predict import rules_spec as spec
from leadml.predict.result import Thresholds
from leadml.predict.rules_terms import (
    POLARS,
    confidence_formula,
    days_formula,
    days_without_engagement_expr,
    interval_formula,
    known_facts_formula,
    level_formula,
)

FLAG_COLUMNS = ("hasCompany", "hasTitle", "hasPhone", "activityBurst", "isInActiveSequence")
LABEL_COLUMNS = ("emailDomainType", "titleSeniority", "companySizeEstimate")
NUMBER_COLUMNS = (
    "emailOpenCount", "emailClickCount", "pageViewCount", "formSubmitCount", "meetingCount", "callCount",
    "totalActivities", "activityVelocity", "channelDiversity", "daysSinceCreated", "recencyScore",
    "emailOpenRate", "emailClickRate", "sequenceEngagement",
)
OUTPUT_COLUMNS = (
    "lead_id", "probability", "confidence", "score", "score_level", "predicted_days", "interval_low",
    "interval_high", *(f"score_{c}" for c in spec.CATEGORIES),
)


def _prepared(features: pl.DataFrame) -> pl.DataFrame:
    """The columns the rules read, with the one-lead path's defaults for nulls and missing columns:
    false, "unknown", 0 (daysSinceLastActivity stays null: the lead never engaged)."""
    have = set(features.columns)

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in have else pl.lit(None, dtype=dtype)

    exprs = [
        pl.col("lead_id") if "lead_id" in have else pl.int_range(pl.len(), dtype=pl.Int64).alias("lead_id"),
        *(col(c, pl.Boolean()).fill_null(False).alias(c) for c in FLAG_COLUMNS),
        *(col(c, pl.String()).fill_null("unknown").alias(c) for c in LABEL_COLUMNS),
        *(col(c, pl.Float64()).fill_null(0.0).alias(c) for c in NUMBER_COLUMNS),
        col("daysSinceLastActivity", pl.Float64()).alias("daysSinceLastActivity"),
    ]
    return features.select(exprs)


def _category_points(category: str) -> pl.Expr:
    total: pl.Expr = pl.lit(0.0)
    for term in spec.TERMS:
        if term.category == category:
            total = total + term.expr()
    return total


def _confidence() -> pl.Expr:
    known = known_facts_formula(pl.col("hasCompany"), pl.col("hasTitle"), pl.col("hasPhone"),
                                pl.col("emailDomainType"), pl.col("companySizeEstimate"), POLARS)
    return confidence_formula(pl.col("totalActivities"), known, pl.col("recencyScore"), POLARS)


def days_expr(probability: pl.Expr | str = "probability") -> pl.Expr:
    """Days to close for a prepared table (`rules_terms.days_formula`) given a probability column."""
    p = pl.col(probability) if isinstance(probability, str) else probability
    return days_formula(p, pl.col("titleSeniority"), pl.col("activityVelocity"), days_without_engagement_expr(), POLARS)


def interval_exprs(days: pl.Expr | str = "predicted_days", confidence: pl.Expr | str = "confidence") -> tuple[pl.Expr, pl.Expr]:
    d = pl.col(days) if isinstance(days, str) else days
    c = pl.col(confidence) if isinstance(confidence, str) else confidence
    return interval_formula(d, c, POLARS)


def level_expr(thresholds: Thresholds, probability: pl.Expr | str = "probability") -> pl.Expr:
    p = pl.col(probability) if isinstance(probability, str) else probability
    return level_formula(p, thresholds.hot, thresholds.warm, thresholds.cold, POLARS)


def prepared(features: pl.DataFrame) -> pl.DataFrame:
    """The columns the rules read with the one-lead path's defaults (see `_prepared`)."""
    return _prepared(features)


def predict_rules_table(features: pl.DataFrame, *, thresholds: Thresholds = Thresholds()) -> pl.DataFrame:
    """One row per lead: lead_id, probability, confidence, score, score_level, predicted_days,
    interval_low, interval_high and score_demographic / _behavioral / _temporal / _engagement.

    `features` has the camelCase feature columns (SPEC section 4) and `lead_id` (row numbers if absent).
    """
    frame = _prepared(features)
    points = {c: _category_points(c) for c in spec.CATEGORIES}
    total_points = points["demographic"] + points["behavioral"] + points["temporal"] + points["engagement"]
    log_odds = spec.BASE_LOG_ODDS + spec.LOG_ODDS_PER_POINT * total_points
    breakdown = {
        f"score_{c}": spec.CATEGORY_WEIGHTS[c] * (points[c] / spec.CATEGORY_MAX_POINTS[c]).clip(0.0, 1.0)
        for c in spec.CATEGORIES
    }
    low, high = interval_exprs()
    return (
        frame.with_columns(
            probability=1.0 / (1.0 + (-log_odds).exp()),
            confidence=_confidence(),
            **breakdown,
        )
        .with_columns(predicted_days=days_expr())
        .with_columns(
            score=sum((pl.col(name) for name in breakdown), pl.lit(0.0)),
            score_level=level_expr(thresholds),
            interval_low=low,
            interval_high=high,
        )
        .select(OUTPUT_COLUMNS)
    )
