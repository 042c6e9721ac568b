"""`leadml llm preview`: the exact request a prediction of a lead would send, computed but not sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leadml.features.single import flatten
from leadml.scoring import llm, predictors
from leadml.scoring.inputs import lead_features
from leadml.scoring.llm_client import LlmService
from leadml.storage import configs
from leadml.storage import leads as lead_store


def preview_lead(session: Session, *, tenant_id: int | None, lead_id: int, service: LlmService,
                 model_loader=None, mode: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Nothing is stored and nothing is sent."""
    now = now or datetime.now(UTC)
    lead = lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    config = configs.get_config(session, tenant_id=tenant_id, config_id=lead.config_id)
    predictor = predictors.choose(session, config=config, rule_based_only=False, model_loader=model_loader)
    features = lead_features(session, lead=lead, config=config, as_of=now)
    thresholds = predictors.thresholds_of(config)
    result = predictor.predict(features, thresholds=thresholds)
    return llm.preview(service, config=config, result=result, features=flatten(features), lead=lead,
                       thresholds=thresholds, mode=mode)
