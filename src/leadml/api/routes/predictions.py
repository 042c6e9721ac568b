"""The seed's per-lead ML endpoints, feedback and accuracy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from leadml import errors
from leadml.api.deps import IdPath, SessionDep, TenantDep
from leadml.api.schemas import (
    AccuracyOut,
    CamelIn,
    FeaturesOut,
    PredictionOut,
    StoredPredictionOut,
    SuccessOut,
)
from leadml.features.single import flatten
from leadml.ingest.schemas import MAX_YEAR, MIN_YEAR
from leadml.predict.rules import category_points
from leadml.predict.rules_spec import CATEGORY_MAX_POINTS
from leadml.scoring import accuracy, predict
from leadml.scoring.inputs import lead_features
from leadml.storage import configs
from leadml.storage import leads as lead_store

router = APIRouter(tags=["predictions"])

PredictionType = Literal["CONVERSION", "TIME_TO_CLOSE", "SCORE", "PRIORITY"]


class PredictIn(CamelIn):
    force_refresh: bool = False
    rule_based_only: bool = False
    include_explanation: bool = Field(default=True, description="false leaves `explanation` null (as in the seed)")


class ValidateIn(CamelIn):
    was_accurate: bool


def _predict(request: Request, session, tenant_id: int, lead_id: int, body: PredictIn | None, prediction_type: str):
    body = body or PredictIn()
    outcome = predict.predict_lead(
        session, tenant_id=tenant_id, lead_id=lead_id, prediction_type=prediction_type,
        force_refresh=body.force_refresh, rule_based_only=body.rule_based_only,
        model_loader=getattr(request.app.state, "model_loader", None),
        llm_service=getattr(request.app.state, "llm", None),
    )
    document = outcome.document
    if not body.include_explanation:
        document = {**document, "explanation": None}
    # The document is plain JSON data already (it is stored as JSON): no jsonable_encoder walk over it.
    return JSONResponse({"prediction": document, "cached": outcome.cached})


@router.post("/leads/{lead_id}/ml/predict", responses={200: {"model": PredictionOut}})
def predict_conversion(lead_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep, body: PredictIn | None = None):
    return _predict(request, session, tenant_id, lead_id, body, "CONVERSION")


@router.post("/leads/{lead_id}/ml/predict-time", responses={200: {"model": PredictionOut}})
def predict_time(lead_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep, body: PredictIn | None = None):
    return _predict(request, session, tenant_id, lead_id, body, "TIME_TO_CLOSE")


@router.post("/leads/{lead_id}/ml/predict-score", responses={200: {"model": PredictionOut}})
def predict_score(lead_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep, body: PredictIn | None = None):
    return _predict(request, session, tenant_id, lead_id, body, "SCORE")


# async: one indexed read, cheaper than the hop to the threadpool a sync route takes (SQLite WAL
# readers never wait for writers, so this cannot hold up the event loop).
@router.get("/leads/{lead_id}/ml/prediction", responses={200: {"model": StoredPredictionOut}})
async def get_prediction(lead_id: IdPath, session: SessionDep, tenant_id: TenantDep,
                   type: Annotated[PredictionType, Query()] = "CONVERSION"):
    stored = predict.latest_prediction_json(session, tenant_id=tenant_id, lead_id=lead_id, prediction_type=type)
    # The stored document is JSON text already: passed through, neither parsed nor re-encoded.
    body = f'{{"id":{stored.id},"isExpired":{"true" if stored.expired else "false"},"prediction":{stored.document_json}}}'
    return Response(body, media_type="application/json")


def _seed_fields(features: dict, lead) -> dict:
    """The seed's feature response fields that are views of other values (not model features)."""
    demographic, temporal, engagement = features["demographic"], features["temporal"], features["engagement"]
    email = lead.email or ""
    demographic["emailDomain"] = email.rsplit("@", 1)[1] if "@" in email else None
    days = temporal.get("daysSinceCreated")
    temporal["leadAgeWeeks"] = round(days / 7.0, 1) if days is not None else None
    # The rules' engagement points as a share of the most they can give, 0-100.
    points = category_points(flatten({k: v for k, v in features.items() if k != "custom"}))
    maximum = CATEGORY_MAX_POINTS["engagement"]
    engagement["totalEngagementScore"] = round(min(max(points["engagement"] / maximum, 0.0), 1.0) * 100, 1)
    engagement["currentSequenceStep"] = lead.sequence_step if lead.sequence_name else None
    return features


@router.get("/leads/{lead_id}/ml/features", responses={200: {"model": FeaturesOut}})
def get_features(lead_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    lead = lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    config = configs.get_config(session, tenant_id=tenant_id, config_id=lead.config_id)
    features = lead_features(session, lead=lead, config=config, as_of=datetime.now(UTC))
    return {"features": _seed_fields(features, lead)}


@router.post("/predictions/{prediction_id}/validate", responses={200: {"model": SuccessOut}})
def validate(prediction_id: IdPath, body: ValidateIn, session: SessionDep, tenant_id: TenantDep):
    predict.validate_prediction(session, tenant_id=tenant_id, prediction_id=prediction_id, was_accurate=body.was_accurate)
    return {"success": True}


def _bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date means the whole day (endDate inclusive); naive times are UTC."""
    if value is None:
        return None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        name = "endDate" if end else "startDate"
        raise errors.InvalidInput(f"{name} must be within the years {MIN_YEAR}-{MAX_YEAR}",
                                  details=[{"loc": ["query", name], "message": "year out of range",
                                            "type": "date_range"}])
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


@router.get("/{config_id}/ml/accuracy", responses={200: {"model": AccuracyOut}})
def get_accuracy(config_id: IdPath, session: SessionDep, tenant_id: TenantDep,
                 start_date: Annotated[date | datetime | None, Query(alias="startDate")] = None,
                 end_date: Annotated[date | datetime | None, Query(alias="endDate")] = None):
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    start, end = _bound(start_date, end=False), _bound(end_date, end=True)
    if start and end and start >= end:
        raise errors.InvalidInput("startDate must be before endDate", details={"startDate": str(start_date),
                                                                               "endDate": str(end_date)})
    report = accuracy.validation_accuracy(session, config_id=config_id, start=start, end=end)
    report["outcomes"] = accuracy.outcome_accuracy(session, config_id=config_id, horizon_days=config.horizon_days,
                                                   start=start, end=end)
    report["models"] = accuracy.model_holdout_metrics(session, config_id=config_id)
    return report
