"""Predict one lead: reuse a still-valid stored prediction or compute, store and return a new one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from leadml import errors
from leadml.features.single import flatten
from leadml.predict.result import PredictionResult
from leadml.scoring import documents, llm, predictors
from leadml.scoring.inputs import lead_features
from leadml.storage import configs
from leadml.storage import leads as lead_store
from leadml.storage import predictions as prediction_store
from leadml.storage.tables import Lead, Prediction, ScoringConfig


@dataclass
class PredictionOutcome:
    prediction: Prediction  # a fresh prediction: a detached copy of the row as inserted
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
    """Round trips: the lead with its config and active model versions (one query), the still-valid
    prediction unless `force_refresh`, the activities, then the write (expire the old, one INSERT:
    the new row's id is taken first so that the stored document carries it)."""
    if prediction_type not in documents.PREDICTION_TYPES:
        raise errors.InvalidInput(f"unknown prediction type {prediction_type!r}", details=list(documents.PREDICTION_TYPES))
    now = now or datetime.now(UTC)
    lead, config, active = lead_store.lead_for_prediction(session, tenant_id=tenant_id, lead_id=lead_id)
    if model_loader is not None and hasattr(model_loader, "bound"):
        model_loader = model_loader.bound(active)  # the active versions are read already
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
    return _store(session, lead=lead, config=config, result=narration.result, prediction_type=prediction_type,
                  model_version_id=predictor.model_version_id, rule_based_only=rule_based_only, now=now,
                  recency_score=features["temporal"].get("recencyScore"), llm_metadata=narration.metadata,
                  deal_value=narration.deal_value)


def _store(session: Session, *, lead: Lead, config: ScoringConfig, result: PredictionResult, prediction_type: str,
           model_version_id: int | None, rule_based_only: bool, now: datetime, recency_score: float | None,
           llm_metadata: dict[str, Any] | None, deal_value: float | None) -> PredictionOutcome:
    """Expire the lead's active prediction of this type and insert the new one with its document."""
    valid_until = now + timedelta(days=config.prediction_validity_days)
    stored: dict[str, Any] = {}

    def values(prediction_id: int) -> dict[str, Any]:
        doc = stored["doc"] = documents.document(
            result, prediction_type=prediction_type, prediction_id=prediction_id, predicted_at=now,
            valid_until=valid_until, recency_score=recency_score, llm_metadata=llm_metadata, deal_value=deal_value,
            pipeline_value=lead.pipeline_value, bands=configs.priority_bands(config),
        )
        return dict(
            config_id=config.id, probability=result.probability, confidence=result.confidence,
            predicted_days=result.predicted_days, interval_low=result.interval_low,
            interval_high=result.interval_high, predicted_score=result.score, score_level=result.score_level,
            priority_score=doc["priorityScore"], priority_tier=doc["priorityTier"], source=result.source,
            model_version_id=model_version_id, rule_based_only=rule_based_only, status="ACTIVE",
            valid_until=valid_until, predicted_at=now, payload=doc, was_accurate=None, validated_at=None,
            top_reasons=documents.top_reason_names(result),
        )

    row = prediction_store.replace_active(session, lead_id=lead.id, prediction_type=prediction_type, values=values)
    return PredictionOutcome(prediction=Prediction(**row), document=stored["doc"], cached=False)


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


@dataclass
class StoredDocument:
    id: int
    expired: bool
    document_json: str  # the prediction document exactly as stored


def latest_prediction_json(session: Session, *, tenant_id: int, lead_id: int, prediction_type: str,
                           now: datetime | None = None) -> StoredDocument:
    """`latest_prediction` in one query, with the document left as the JSON text it is stored as
    (the cached read then neither parses nor re-encodes it)."""
    if prediction_type not in documents.PREDICTION_TYPES:
        raise errors.InvalidInput(f"unknown prediction type {prediction_type!r}", details=list(documents.PREDICTION_TYPES))
    found = prediction_store.latest_json(session, tenant_id=tenant_id, lead_id=lead_id, prediction_type=prediction_type)
    if found is None:
        lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)  # 404 for the lead itself first
        raise errors.NotFound(f"no {prediction_type} prediction for lead {lead_id}")
    prediction_id, status, valid_until, document_json = found
    now = now or datetime.now(UTC)
    return StoredDocument(id=prediction_id, expired=status == "EXPIRED" or valid_until <= now,
                          document_json=document_json)


def validate_prediction(session: Session, *, tenant_id: int, prediction_id: int, was_accurate: bool,
                        now: datetime | None = None) -> Prediction:
    row = prediction_store.get_prediction(session, tenant_id=tenant_id, prediction_id=prediction_id)
    row.was_accurate = was_accurate
    row.status = "VALIDATED" if was_accurate else "INVALIDATED"
    row.validated_at = now or datetime.now(UTC)
    session.flush()
    return row
