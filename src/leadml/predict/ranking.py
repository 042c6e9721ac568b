"""Priority ranking (SPEC section 6): who to call first.

priorityScore (0-100) = 100 * (0.70 * conversion probability
                               + 0.20 * recency        (recencyScore / 100: 1 today, halves every 7 days)
                               + 0.10 * closeness)     ((180 - days to close) / (180 - 7): 1 at 7 days, 0 at 180)

Probability dominates; the urgency terms break ties between similarly likely leads in favour of the
one engaging right now and the one that can close soonest. A missing recency or days to close counts
as no urgency (0). Tiers are fixed bands on the score (default top >= 75, high >= 50, medium >= 25,
low below), so a tier means the same thing whatever the other leads look like (not quartiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl

Tier = Literal["top", "high", "medium", "low"]
TIERS: tuple[Tier, ...] = ("top", "high", "medium", "low")
DEFAULT_BANDS = (75.0, 50.0, 25.0)

PROBABILITY_WEIGHT = 0.70
RECENCY_WEIGHT = 0.20
CLOSENESS_WEIGHT = 0.10
FASTEST_DAYS, SLOWEST_DAYS = 7.0, 180.0


def _check_bands(bands: Sequence[float]) -> tuple[float, float, float]:
    if len(bands) != 3 or not (bands[0] > bands[1] > bands[2]):
        raise ValueError(f"priority bands must be three descending numbers (top, high, medium), got {bands!r}")
    return float(bands[0]), float(bands[1]), float(bands[2])


def priority_score(probability: float, recency_score: float | None, predicted_days: float | None) -> float:
    """0-100, see the module docstring."""
    p = min(max(float(probability), 0.0), 1.0)
    recency = 0.0 if recency_score is None else min(max(float(recency_score), 0.0), 100.0) / 100.0
    if predicted_days is None:
        closeness = 0.0
    else:
        days = min(max(float(predicted_days), FASTEST_DAYS), SLOWEST_DAYS)
        closeness = (SLOWEST_DAYS - days) / (SLOWEST_DAYS - FASTEST_DAYS)
    return 100.0 * (PROBABILITY_WEIGHT * p + RECENCY_WEIGHT * recency + CLOSENESS_WEIGHT * closeness)


def priority_tier(priority_score: float, bands: Sequence[float] = DEFAULT_BANDS) -> Tier:
    top, high, medium = _check_bands(bands)
    if priority_score >= top:
        return "top"
    if priority_score >= high:
        return "high"
    if priority_score >= medium:
        return "medium"
    return "low"


# --- vectorized -------------------------------------------------------------------------------


def _floats(values: Any) -> np.ndarray:
    """numpy array of float64 from a list, numpy array or polars Series; None/null -> NaN."""
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return np.asarray(values, dtype=np.float64)  # numpy reads None as NaN for float64


def priority_scores(probability: Any, recency_score: Any, predicted_days: Any) -> np.ndarray:
    """`priority_score` for arrays (numpy, polars Series or lists); the same numbers element-wise."""
    p = np.clip(np.nan_to_num(_floats(probability), nan=0.0), 0.0, 1.0)
    recency = np.clip(np.nan_to_num(_floats(recency_score), nan=0.0), 0.0, 100.0) / 100.0
    days = _floats(predicted_days)
    closeness = np.where(
        np.isnan(days), 0.0,
        (SLOWEST_DAYS - np.clip(days, FASTEST_DAYS, SLOWEST_DAYS)) / (SLOWEST_DAYS - FASTEST_DAYS),
    )
    return 100.0 * (PROBABILITY_WEIGHT * p + RECENCY_WEIGHT * recency + CLOSENESS_WEIGHT * closeness)


def priority_tiers(scores: Any, bands: Sequence[float] = DEFAULT_BANDS) -> np.ndarray:
    """`priority_tier` for an array of priority scores: an array of tier names."""
    top, high, medium = _check_bands(bands)
    s = _floats(scores)
    return np.select([s >= top, s >= high, s >= medium], ["top", "high", "medium"], default="low").astype(object)


def priority_ranks(scores: Any) -> np.ndarray:
    """1 = best; ties keep their input order (a stable sort), so ranks are unique."""
    order = np.argsort(-_floats(scores), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def priority_score_expr(
    probability: str | pl.Expr = "probability",
    recency_score: str | pl.Expr = "recencyScore",
    predicted_days: str | pl.Expr = "predicted_days",
) -> pl.Expr:
    """`priority_score` as a polars expression over columns (names or expressions)."""
    as_expr = lambda v: pl.col(v) if isinstance(v, str) else v  # noqa: E731
    p = as_expr(probability).cast(pl.Float64).fill_null(0.0).clip(0.0, 1.0)
    recency = as_expr(recency_score).cast(pl.Float64).fill_null(0.0).clip(0.0, 100.0) / 100.0
    days = as_expr(predicted_days).cast(pl.Float64)
    closeness = ((SLOWEST_DAYS - days.clip(FASTEST_DAYS, SLOWEST_DAYS)) / (SLOWEST_DAYS - FASTEST_DAYS)).fill_null(0.0)
    return 100.0 * (PROBABILITY_WEIGHT * p + RECENCY_WEIGHT * recency + CLOSENESS_WEIGHT * closeness)


def priority_tier_expr(score: str | pl.Expr = "priority_score", bands: Sequence[float] = DEFAULT_BANDS) -> pl.Expr:
    top, high, medium = _check_bands(bands)
    s = pl.col(score) if isinstance(score, str) else score
    return (
        pl.when(s >= top).then(pl.lit("top"))
        .when(s >= high).then(pl.lit("high"))
        .when(s >= medium).then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
