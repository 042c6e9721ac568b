"""The rule predictor for a whole table of leads at once, in polars expressions.

Same rules and constants as the one-lead path (rules_spec.py), so the numbers agree with
`predict_rules` lead by lead; only the narrative parts (reasons, risks, recommendations) are left to
the one-lead path.
"""

from __future__ import annotations

import polars as pl

from leadml.predict import rules_spec as spec
from leadml.predict.result import Thresholds
from leadml.predict.rules_terms import days_without_engagement_expr

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
    activity = pl.col("totalActivities").clip(0.0, spec.CONFIDENCE_ACTIVITY_SATURATION)
    known = (
        pl.col("hasCompany").cast(pl.Float64)
        + pl.col("hasTitle").cast(pl.Float64)
        + pl.col("hasPhone").cast(pl.Float64)
        + (pl.col("emailDomainType") != "unknown").cast(pl.Float64)
        + (pl.col("companySizeEstimate") != "unknown").cast(pl.Float64)
    )
    value = (
        spec.CONFIDENCE_BASE
        + spec.CONFIDENCE_ACTIVITY * (activity / spec.CONFIDENCE_ACTIVITY_SATURATION)
        + spec.CONFIDENCE_PROFILE * (known / 5.0)
        + spec.CONFIDENCE_RECENCY * (pl.col("recencyScore").clip(0.0, 100.0) / 100.0)
    )
    return pl.min_horizontal(value, pl.lit(spec.CONFIDENCE_MAX))


def _raw_days() -> pl.Expr:
    seniority = pl.col("titleSeniority").replace_strict(spec.DAYS_SENIORITY, default=0.0, return_dtype=pl.Float64)
    (fast, fast_days), (brisk, brisk_days) = spec.DAYS_VELOCITY
    velocity = (
        pl.when(pl.col("activityVelocity") > fast).then(fast_days)
        .when(pl.col("activityVelocity") > brisk).then(brisk_days)
        .otherwise(0.0)
    )
    stale = pl.when(days_without_engagement_expr() > spec.DAYS_STALE_AFTER).then(spec.DAYS_STALE).otherwise(0.0)
    return spec.DAYS_BASE + spec.DAYS_PER_PROBABILITY * pl.col("probability") + seniority + velocity + stale


def _level(thresholds: Thresholds) -> pl.Expr:
    pct = pl.col("probability") * 100.0
    return (
        pl.when(pct >= thresholds.hot).then(pl.lit("HOT"))
        .when(pct >= thresholds.warm).then(pl.lit("WARM"))
        .when(pct >= thresholds.cold).then(pl.lit("COLD"))
        .otherwise(pl.lit("DEAD"))
    )


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
    half = (1.0 - pl.col("confidence")) * pl.col("predicted_days") * spec.INTERVAL_SPREAD
    return (
        frame.with_columns(
            probability=1.0 / (1.0 + (-log_odds).exp()),
            confidence=_confidence(),
            **breakdown,
        )
        .with_columns(predicted_days=_raw_days().clip(spec.DAYS_MIN, spec.DAYS_MAX))
        .with_columns(
            score=sum((pl.col(name) for name in breakdown), pl.lit(0.0)),
            score_level=_level(thresholds),
            interval_low=pl.max_horizontal(pl.col("predicted_days") - half, pl.lit(spec.DAYS_MIN)),
            interval_high=pl.col("predicted_days") + half,
        )
        .select(OUTPUT_COLUMNS)
    )
