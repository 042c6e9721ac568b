"""A PredictionResult as the seed API's prediction document (camelCase), per prediction type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadml.predict import ranking
from leadml.predict.confidence import CONFIDENCE_MEANING
from leadml.predict.result import PredictionResult
from leadml.scoring import llm

PREDICTION_TYPES = ("CONVERSION", "TIME_TO_CLOSE", "SCORE", "PRIORITY")


def _camel(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in record.items():
        head, *rest = key.split("_")
        out[head + "".join(part.title() for part in rest)] = value
    return out


def priority_of(result: PredictionResult, recency_score: float | None,
                bands=ranking.DEFAULT_BANDS) -> tuple[float, str]:
    score = ranking.priority_score(result.probability, recency_score, result.predicted_days)
    return score, ranking.priority_tier(score, bands)


def top_reason_names(result: PredictionResult, k: int = 3) -> str:
    """The strongest positive reasons' features, comma-separated (the bulk path stores the same)."""
    return ",".join(r.feature for r in result.top_positive[:k])


def document(
    result: PredictionResult, *, prediction_type: str, prediction_id: int, predicted_at: datetime,
    valid_until: datetime, recency_score: float | None, llm_metadata: dict[str, Any] | None = None,
    deal_value: float | None = None, pipeline_value: float | None = None, bands=ranking.DEFAULT_BANDS,
) -> dict[str, Any]:
    """Every field a client may read; a cached read returns this same document.

    `predictedValue` is the deal value, as in the seed: the lead's pipeline value, else the LLM's
    estimate (`deal_value`, also shown alone as `predictedDealValue`), else null; never a copy of
    the probability."""
    value = pipeline_value if pipeline_value is not None else deal_value
    priority_score, priority_tier = priority_of(result, recency_score, bands)
    return {
        "predictionId": prediction_id,
        "predictionType": prediction_type,
        "source": result.source,
        "modelVersion": result.model_version,
        "probability": round(result.probability, 6),
        "confidence": round(result.confidence, 4),
        "confidenceMeaning": CONFIDENCE_MEANING,
        "predictedValue": round(float(value), 2) if value is not None else None,
        "predictedDays": round(result.predicted_days, 1),
        "confidenceInterval": {"low": round(result.interval_low, 1), "high": round(result.interval_high, 1)},
        "predictedScore": round(result.score, 1),
        "scoreBreakdown": {k: round(v, 2) for k, v in result.score_breakdown.items()},
        "predictedScoreLevel": result.score_level,
        "priorityScore": round(priority_score, 2),
        "priorityTier": priority_tier,
        "riskFactors": [_camel(vars(r)) for r in result.risk_factors],
        "recommendations": [_camel(vars(r)) for r in result.recommendations],
        "explanation": result.explanation,
        "topPositiveReasons": [_camel(vars(r)) for r in result.top_positive],
        "topNegativeReasons": [_camel(vars(r)) for r in result.top_negative],
        "factors": [_camel(f) for f in result.time_factors],
        "accelerationOpportunities": [_camel(a) for a in result.acceleration_opportunities],
        "predictedDealValue": None if deal_value is None else round(deal_value, 2),
        "llmMetadata": llm_metadata if llm_metadata is not None else llm.metadata(result),
        "predictedAt": predicted_at.isoformat(),
        "validUntil": valid_until.isoformat(),
    }
