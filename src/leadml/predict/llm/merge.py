"""What a validated answer may change in a prediction.

Narrative mode changes words only: the explanation and the recommendations' action, rationale and
expected impact (priority and timeframe stay). Every number and the level are the model's or the
rules'. Predictor mode also takes probability, confidence and days from the answer, within bounds;
the level is always the config's thresholds applied to that probability, and risks and
recommendations are recomputed for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from leadml.predict.llm.schemas import BadAnswer, NarrativeAnswer, PredictorAnswer, RecommendationWording
from leadml.predict.recommend import recommendations as recommend
from leadml.predict.result import PredictionResult, Recommendation, Thresholds, score_level
from leadml.predict.risks import risk_factors
from leadml.predict.rules import days_interval

MAX_CONFIDENCE = 0.95


def _reworded(recs: Sequence[Recommendation], wording: Sequence[RecommendationWording],
              original: Sequence[Recommendation]) -> list[Recommendation]:
    """Apply wording given for `original[index]` to the rec in `recs` with the same action."""
    by_action = {original[w.index].action: w for w in wording if w.index < len(original)}
    out = []
    for rec in recs:
        w = by_action.get(rec.action)
        out.append(rec if w is None else replace(rec, action=w.action, rationale=w.rationale,
                                                  expected_impact=w.expectedImpact))
    return out


def narrate(result: PredictionResult, answer: NarrativeAnswer) -> PredictionResult:
    return replace(result, explanation=answer.explanation,
                   recommendations=_reworded(result.recommendations, answer.recommendations, result.recommendations))


def check_bounds(baseline: PredictionResult, answer: PredictorAnswer, *, max_probability_shift: float) -> None:
    shift = abs(answer.probability - baseline.probability)
    if shift > max_probability_shift:
        raise BadAnswer("out_of_range", f"probability {answer.probability:.3f} is {shift:.3f} from the "
                                        f"{baseline.source} estimate {baseline.probability:.3f} "
                                        f"(at most {max_probability_shift:g} allowed)")


def predict_with(
    baseline: PredictionResult, answer: PredictorAnswer, *, features: Mapping[str, Any], thresholds: Thresholds,
    max_probability_shift: float,
) -> PredictionResult:
    check_bounds(baseline, answer, max_probability_shift=max_probability_shift)
    probability = min(max(answer.probability, 0.01), 0.99)
    confidence = min(answer.confidence, MAX_CONFIDENCE)
    days = answer.predictedDays
    low, high = days_interval(days, confidence)
    reasons = list(baseline.top_positive) + list(baseline.top_negative)
    recs = recommend(features, probability, reasons)
    return replace(
        baseline, source="llm", probability=probability, confidence=confidence,
        score_level=score_level(probability, thresholds), predicted_days=days, interval_low=low, interval_high=high,
        risk_factors=risk_factors(features, probability, reasons),
        recommendations=_reworded(recs, answer.recommendations, baseline.recommendations),
        explanation=answer.explanation,
    )
