"""Predictors for a whole table of leads at once (bulk scoring): the numbers and the top reasons.

Pure, like the rest of predict/: a feature table in (see features/table.py), a table of results out.
The numbers are those of the one-lead predictors (`predict_rules`, `predict_trained`), from the same
formulas (rules_terms.py) and the same model calls, vectorized:

- rules: `predict_rules_table`, plus each rule's log-odds contribution as one column, from which the
  strongest reasons are picked;
- model: the calibrated `predict_proba`, the exact contributions (`ConversionModel.contributions`,
  TreeSHAP by table lookup) and the time-to-close model's median and interval, one call each per
  batch; confidence from the hold-out bins; days from the rules' formula when no time-to-close
  model was trained.

Reasons (`top_k`): the k strongest positive and negative contributions per lead, as feature
index and value. Risk factors, recommendations and what-if opportunities are per-lead narrative and
stay with the one-lead path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from leadml.predict import explain
from leadml.predict import rules_spec as spec
from leadml.predict.result import Thresholds
from leadml.predict.rules_table import days_expr, interval_exprs, level_expr, predict_rules_table, prepared
from leadml.predict.rules_terms import CappedCounts
from leadml.predict.trained import CATEGORY_WEIGHTS, TrainedBundle

RESULT_COLUMNS = (
    "lead_id", "probability", "confidence", "score_level", "predicted_days", "interval_low", "interval_high", "score",
    "score_demographic", "score_behavioral", "score_temporal", "score_engagement",
)
ACTIVITY_REASON = "inboundActivity"  # the capped activity-count rule, as one reason


@dataclass
class BatchResult:
    """`table`: RESULT_COLUMNS per lead. `contributions`: n x len(features) log-odds contributions."""

    table: pl.DataFrame
    contributions: np.ndarray
    features: list[str]
    categories: dict[str, str]
    explain_seconds: float = 0.0  # time spent on the contributions (the cost of the reasons)


def _rule_reason_name(term) -> str:
    return ACTIVITY_REASON if isinstance(term, CappedCounts) else term.feature


def rules_batch(features: pl.DataFrame, *, thresholds: Thresholds) -> BatchResult:
    """The transparent rules for a table; contributions are each rule's log-odds share."""
    table = predict_rules_table(features, thresholds=thresholds).select(RESULT_COLUMNS)
    ready = prepared(features)
    names: list[str] = []
    categories: dict[str, str] = {}
    exprs = []
    for term in spec.TERMS:
        name = _rule_reason_name(term)
        alias = name if name not in names else f"{name}#{len(names)}"
        names.append(alias)
        categories[alias] = term.category
        exprs.append((spec.LOG_ODDS_PER_POINT * term.expr()).cast(pl.Float64).alias(alias))
    contributions = ready.select(exprs).to_numpy() if exprs else np.zeros((features.height, 0))
    return BatchResult(table=table, contributions=contributions, features=names, categories=categories)


def _model_frame(bundle: TrainedBundle, features: pl.DataFrame):
    """The model's columns as pandas, as training builds them (`to_pandas` of the feature table)."""
    have = set(features.columns)
    columns = [pl.col(c) if c in have else pl.lit(None).alias(c) for c in bundle.columns]
    return features.select(columns).to_pandas()


def _confidence_from_bins(bins: Sequence[dict], probability: np.ndarray) -> np.ndarray:
    """`trained.confidence_for` for an array: the hold-out bin's confidence, 0.5 outside every bin."""
    out = np.full(len(probability), 0.5)
    for row in bins:
        inside = (probability >= row["low"]) & (probability < row["high"])
        if row["high"] == 1.0:
            inside |= probability >= 1.0
        out = np.where(inside & (out == 0.5), row["confidence"], out)
    return out


def model_batch(bundle: TrainedBundle, features: pl.DataFrame, *, thresholds: Thresholds,
                explain_reasons: bool = True) -> BatchResult:
    """The trained model for a table. `explain_reasons=False` skips the contributions (and the
    breakdown falls back to the probability spread by category weight)."""
    frame = _model_frame(bundle, features)
    probability = bundle.conversion.predict_proba(frame)[:, 1]
    started = time.perf_counter()
    if explain_reasons:
        _base, contributions = bundle.conversion.contributions(frame)
    else:
        contributions = np.zeros((len(frame), len(bundle.columns)))
    explain_seconds = time.perf_counter() - started
    if bundle.confidence_bins:
        confidence = pl.Series("confidence", _confidence_from_bins(bundle.confidence_bins, probability))
        result = prepared(features).with_columns(pl.Series("probability", probability), confidence)
    else:
        rules = predict_rules_table(features, thresholds=thresholds).select("lead_id", "confidence")
        result = prepared(features).with_columns(pl.Series("probability", probability),
                                                 rules.get_column("confidence"))
    if bundle.survival is not None:
        median, low, high = bundle.survival.predict_interval(frame)
        result = result.with_columns(pl.Series("predicted_days", np.asarray(median, dtype=float)),
                                     pl.Series("interval_low", np.asarray(low, dtype=float)),
                                     pl.Series("interval_high", np.asarray(high, dtype=float)))
    else:
        low, high = interval_exprs()
        result = result.with_columns(predicted_days=days_expr()).with_columns(interval_low=low, interval_high=high)
    # Score 100 x p, spread over the categories in proportion to weight x sigmoid(category total),
    # as trained.breakdown does for one lead.
    totals = explain.category_totals(contributions, bundle.columns, bundle.categories)
    strength = {c: CATEGORY_WEIGHTS[c] / (1.0 + np.exp(-totals[c])) for c in CATEGORY_WEIGHTS}
    total_strength = sum(strength.values())
    score = 100.0 * probability
    result = result.with_columns(
        score=pl.Series(score),
        **{f"score_{c}": pl.Series(score * strength[c] / total_strength) for c in CATEGORY_WEIGHTS},
    ).with_columns(score_level=level_expr(thresholds))
    return BatchResult(table=result.select(RESULT_COLUMNS), contributions=contributions,
                       features=list(bundle.columns), categories=dict(bundle.categories),
                       explain_seconds=explain_seconds)
