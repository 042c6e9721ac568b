"""Predict one lead: reuse a still-valid stored prediction or compute, store and return a new one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from leadml import errors
from leadml.features.single import flatten
from leadml.scoring import documents, llm, predictors
from leadml.scoring.inputs import lead_features
from leadml.storage import configs
from leadml.storage import leads as lead_store
from leadml.storage import predictions as prediction_store
from leadml.storage.tables import Prediction


@dataclass
class PredictionOutcome:
    prediction: Prediction
    document: dict[str, Any]
    cached: bool


def predict_lead(
    session: Session,
    *,
    tenant_id: int | None,
    lead_id: int,
    prediction_type: str = "CONVERSION",
    force_refresh: bool = False,
    rule_based_only: bool = False,
    now: datetime | None = None,
    model_loader=None,
    llm_service=None,
) -> PredictionOutcome:
    if prediction_type not in documents.PREDICTION_TYPES:
        raise errors.InvalidInput(f"unknown prediction type {prediction_type!r}", details=list(documents.PREDICTION_TYPES))
    now = now or datetime.now(UTC)
    lead = lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    config = configs.get_config(session, tenant_id=tenant_id, config_id=lead.config_id)
    predictor = predictors.choose(session, config=config, rule_based_only=rule_based_only, model_loader=model_loader)
    if not force_refresh:
        cached = prediction_store.reusable(
            session, lead=lead, prediction_type=prediction_type,
            source=llm.expected_source(llm_service, config, predictor.source, rule_based_only=rule_based_only),
            model_version_id=predictor.model_version_id, rule_based_only=rule_based_only, now=now,
        )
        if cached is not None and llm.cached_is_current(cached.payload, llm_service, config,
                                                        rule_based_only=rule_based_only):
            return PredictionOutcome(prediction=cached, document=cached.payload, cached=True)
    features = lead_features(session, lead=lead, config=config, as_of=now)
    result = predictor.predict(features, thresholds=predictors.thresholds_of(config))
    # The LLM step (scoring/llm.py): words, or bounded numbers in predictor mode; falls back to `result`.
    narration = llm.narrate_prediction(llm_service, config=config, tenant=config.tenant_id, result=result,
                                       features=flatten(features), lead=lead, rule_based_only=rule_based_only,
                                       thresholds=predictors.thresholds_of(config))
    result = narration.result
    prediction_store.expire_active(session, lead_id=lead.id, prediction_type=prediction_type)
    valid_until = now + timedelta(days=config.prediction_validity_days)
    row = Prediction(
        config_id=config.id, lead_id=lead.id, type=prediction_type, probability=result.probability,
        confidence=result.confidence, predicted_days=result.predicted_days, interval_low=result.interval_low,
        interval_high=result.interval_high, predicted_score=result.score, score_level=result.score_level,
        source=result.source, model_version_id=predictor.model_version_id, rule_based_only=rule_based_only,
        status="ACTIVE", valid_until=valid_until, predicted_at=now, payload={},
    )
    session.add(row)
    session.flush()
    doc = documents.document(
        result, prediction_type=prediction_type, prediction_id=row.id, predicted_at=now, valid_until=valid_until,
        recency_score=features["temporal"].get("recencyScore"), bands=configs.priority_bands(config),
        llm_metadata=narration.metadata, deal_value=narration.deal_value,
    )
    row.payload = doc
    row.priority_score = doc["priorityScore"]
    row.priority_tier = doc["priorityTier"]
    row.top_reasons = documents.top_reason_names(result)
    session.flush()
    return PredictionOutcome(prediction=row, document=doc, cached=False)


def latest_prediction(session: Session, *, tenant_id: int, lead_id: int, prediction_type: str,
                      now: datetime | None = None) -> tuple[Prediction, bool]:
    if prediction_type not in documents.PREDICTION_TYPES:
        raise errors.InvalidInput(f"unknown prediction type {prediction_type!r}", details=list(documents.PREDICTION_TYPES))
    lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    row = prediction_store.latest(session, lead_id=lead_id, prediction_type=prediction_type)
    if row is None:
        raise errors.NotFound(f"no {prediction_type} prediction for lead {lead_id}")
    now = now or datetime.now(UTC)
    return row, row.status == "EXPIRED" or row.valid_until <= now


def validate_prediction(session: Session, *, tenant_id: int, prediction_id: int, was_accurate: bool,
                        now: datetime | None = None) -> Prediction:
    row = prediction_store.get_prediction(session, tenant_id=tenant_id, prediction_id=prediction_id)
    row.was_accurate = was_accurate
    row.status = "VALIDATED" if was_accurate else "INVALIDATED"
    row.validated_at = now or datetime.now(UTC)
    session.flush()
    return row
