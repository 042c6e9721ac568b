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

from leadml.features.twin import POLARS, SCALAR, Ops

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


def priority_formula(probability, recency_score, predicted_days, ops: Ops = SCALAR):
    """The one definition of the priority score (see the module docstring), for SCALAR or POLARS."""
    p = ops.clip(ops.if_null(probability, 0.0), 0.0, 1.0)
    recency = ops.clip(ops.if_null(recency_score, 0.0), 0.0, 100.0) / 100.0
    closeness = ops.if_null(
        predicted_days, 0.0,
        lambda days: (SLOWEST_DAYS - ops.clip(days, FASTEST_DAYS, SLOWEST_DAYS)) / (SLOWEST_DAYS - FASTEST_DAYS),
    )
    return 100.0 * (PROBABILITY_WEIGHT * p + RECENCY_WEIGHT * recency + CLOSENESS_WEIGHT * closeness)


def tier_formula(score, bands: Sequence[float] = DEFAULT_BANDS, ops: Ops = SCALAR):
    top, high, medium = _check_bands(bands)
    return ops.where(score >= top, "top", lambda: ops.where(score >= high, "high",
                                                           lambda: ops.where(score >= medium, "medium", "low")))


def priority_score(probability: float, recency_score: float | None, predicted_days: float | None) -> float:
    """0-100, see the module docstring."""
    return float(priority_formula(
        None if probability is None else float(probability),
        None if recency_score is None else float(recency_score),
        None if predicted_days is None else float(predicted_days),
    ))


def priority_tier(priority_score: float, bands: Sequence[float] = DEFAULT_BANDS) -> Tier:
    return tier_formula(float(priority_score), bands)


# --- vectorized -------------------------------------------------------------------------------


def _floats(values: Any) -> np.ndarray:
    """numpy array of float64 from a list, numpy array or polars Series; None/null -> NaN."""
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return np.asarray(values, dtype=np.float64)  # numpy reads None as NaN for float64


def priority_scores(probability: Any, recency_score: Any, predicted_days: Any) -> np.ndarray:
    """`priority_score` for arrays (numpy, polars Series or lists); the same numbers element-wise."""
    frame = pl.DataFrame({"p": _floats(probability), "r": _floats(recency_score), "d": _floats(predicted_days)})
    frame = frame.with_columns(pl.all().fill_nan(None))
    return frame.select(priority_score_expr("p", "r", "d")).to_series().to_numpy()


def priority_tiers(scores: Any, bands: Sequence[float] = DEFAULT_BANDS) -> np.ndarray:
    """`priority_tier` for an array of priority scores: an array of tier names."""
    frame = pl.DataFrame({"s": _floats(scores)})
    return frame.select(priority_tier_expr("s", bands)).to_series().to_numpy().astype(object)


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
    as_expr = lambda v: (pl.col(v) if isinstance(v, str) else v).cast(pl.Float64)  # noqa: E731
    return priority_formula(as_expr(probability), as_expr(recency_score), as_expr(predicted_days), POLARS)


def priority_tier_expr(score: str | pl.Expr = "priority_score", bands: Sequence[float] = DEFAULT_BANDS) -> pl.Expr:
    return tier_formula(pl.col(score) if isinstance(score, str) else score, bands, POLARS)
