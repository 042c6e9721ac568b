"""API request and response shapes (camelCase on the wire, as in the seed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from leadml.ingest.schemas import ActivityIn, AttributeName, AttributeValue, CamelModel, LeadIn

MAX_FEATURE_ATTRIBUTES = 200


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class CamelIn(CamelModel):
    """Request bodies: camelCase, unknown fields refused, every string storable (see CamelModel)."""


class ErrorOut(BaseModel):
    """Every error answer: a message for people, a stable code for programs, and details."""

    error: str = Field(description="what went wrong, for people")
    code: str = Field(description="stable machine-readable code, e.g. validation_error, not_found, rate_limited")
    details: Any = Field(default=None, description="structured details (per-field problems for validation errors)")


def _timezone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value!r}") from None
    return value


LlmMode = Literal["narrative", "predictor"]


def _llm_mode(value: Any) -> Any:
    """`predict` was this field's earlier spelling of `predictor`."""
    return "predictor" if value == "predict" else value


class ConfigUpdate(CamelIn):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    hot_threshold: float | None = Field(default=None, ge=0, le=100)
    warm_threshold: float | None = Field(default=None, ge=0, le=100)
    cold_threshold: float | None = Field(default=None, ge=0, le=100)
    timezone: str | None = Field(default=None, max_length=64)
    horizon_days: int | None = Field(default=None, ge=1, le=3650)
    prediction_validity_days: int | None = Field(default=None, ge=1, le=365)
    feature_attributes: list[AttributeName] | None = Field(default=None, max_length=MAX_FEATURE_ATTRIBUTES)
    llm_enabled: bool | None = None
    llm_mode: LlmMode | None = Field(default=None, description="narrative (default) or predictor")
    priority_top_band: float | None = Field(default=None, ge=0, le=100)
    priority_high_band: float | None = Field(default=None, ge=0, le=100)
    priority_medium_band: float | None = Field(default=None, ge=0, le=100)
    refresh_interval_hours: int | None = Field(default=None, ge=1, le=24 * 365)

    _tz = field_validator("timezone")(_timezone)
    _mode = field_validator("llm_mode", mode="before")(_llm_mode)

    @model_validator(mode="after")
    def _no_nulls(self):
        # Every setting has a value: null is refused rather than stored (or silently ignored).
        nulls = sorted(to_camel(name) for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; omit a field to leave it unchanged")
        return self


class ConfigCreate(CamelIn):
    name: str = Field(min_length=1, max_length=200)
    hot_threshold: float = Field(default=80, ge=0, le=100)
    warm_threshold: float = Field(default=50, ge=0, le=100)
    cold_threshold: float = Field(default=20, ge=0, le=100)
    timezone: str = Field(default="UTC", max_length=64)
    horizon_days: int = Field(default=90, ge=1, le=3650)
    prediction_validity_days: int = Field(default=7, ge=1, le=365)
    feature_attributes: list[AttributeName] = Field(default_factory=list, max_length=MAX_FEATURE_ATTRIBUTES)
    llm_enabled: bool = False
    llm_mode: LlmMode = Field(default="narrative", description="narrative (default) or predictor")
    priority_top_band: float = Field(default=75, ge=0, le=100, description="priority score at least this: tier top")
    priority_high_band: float = Field(default=50, ge=0, le=100, description="... at least this: tier high")
    priority_medium_band: float = Field(default=25, ge=0, le=100, description="... at least this: medium; below: low")
    refresh_interval_hours: int | None = Field(
        default=None, ge=1, le=24 * 365,
        description="re-score expired or changed leads automatically every N hours (off when null)")

    _tz = field_validator("timezone")(_timezone)
    _mode = field_validator("llm_mode", mode="before")(_llm_mode)


class ConfigOut(Camel):
    id: int
    name: str
    hot_threshold: float
    warm_threshold: float
    cold_threshold: float
    timezone: str
    horizon_days: int
    prediction_validity_days: int
    feature_attributes: list[str]
    llm_enabled: bool
    llm_mode: str
    priority_top_band: float
    priority_high_band: float
    priority_medium_band: float
    refresh_interval_hours: int | None
    created_at: datetime
    updated_at: datetime


class ConfigList(Camel):
    configs: list[ConfigOut]


class SequenceOut(Camel):
    name: str
    step: int | None
    total_steps: int | None
    active: bool


class OutcomeOut(Camel):
    status: str
    at: datetime | None
    value: float | None


class LeadOut(Camel):
    id: int
    config_id: int
    email: str | None
    external_id: str | None
    name: str | None
    company: str | None
    phone: str | None
    title: str | None
    pipeline_stage: str | None
    pipeline_value: float | None
    tags: list[str]
    attributes: dict[str, AttributeValue]
    created_at: datetime
    updated_at: datetime
    is_active: bool
    sequence: SequenceOut | None
    outcome: OutcomeOut

    @classmethod
    def of(cls, lead) -> LeadOut:
        return cls(
            id=lead.id, config_id=lead.config_id, email=lead.email, external_id=lead.external_id, name=lead.name,
            company=lead.company, phone=lead.phone, title=lead.title, pipeline_stage=lead.pipeline_stage,
            pipeline_value=lead.pipeline_value, tags=lead.tags or [], attributes=lead.attributes or {},
            created_at=lead.created_at, updated_at=lead.updated_at, is_active=lead.is_active,
            sequence=SequenceOut(name=lead.sequence_name, step=lead.sequence_step, total_steps=lead.sequence_total,
                                 active=lead.sequence_active) if lead.sequence_name else None,
            outcome=OutcomeOut(status=lead.outcome_status, at=lead.outcome_at, value=lead.outcome_value),
        )


class LeadsBatchIn(CamelIn):
    leads: list[LeadIn] = Field(min_length=1, max_length=5000)


class LeadsBatchOut(Camel):
    leads: list[LeadOut]
    created: int
    updated: int


class LeadList(Camel):
    leads: list[LeadOut]
    total: int
    limit: int
    offset: int


class ActivitiesBatchIn(CamelIn):
    activities: list[ActivityIn] = Field(min_length=1, max_length=50000)


class ActivitiesOut(Camel):
    accepted: int
    duplicates: int


# --- responses of the prediction, job, model and accuracy endpoints (documented in OpenAPI) -------

class RiskFactorOut(Camel):
    factor: str
    impact: str
    current_value: Any = None
    trend: str
    description: str


class RecommendationOut(Camel):
    priority: str
    action: str
    rationale: str
    expected_impact: str
    timeframe: str


class ReasonOut(Camel):
    feature: str
    category: str
    value: Any = None
    contribution: float
    text: str


class IntervalOut(Camel):
    low: float
    high: float


class PredictionDoc(Camel):
    """One prediction, as returned fresh and as stored (a cached read returns the same fields)."""

    prediction_id: int
    prediction_type: Literal["CONVERSION", "TIME_TO_CLOSE", "SCORE", "PRIORITY"]
    source: str = Field(description="model, llm or rules")
    model_version: int | None
    probability: float
    confidence: float
    predicted_value: float | None = Field(
        description="the deal value: the lead's pipeline value, or the LLM's estimate; null when neither is known")
    predicted_days: float
    confidence_interval: IntervalOut
    predicted_score: float
    score_breakdown: dict[str, float]
    predicted_score_level: str
    priority_score: float
    priority_tier: str
    risk_factors: list[RiskFactorOut]
    recommendations: list[RecommendationOut]
    explanation: str | None = Field(description="null when the request set includeExplanation to false")
    top_positive_reasons: list[ReasonOut]
    top_negative_reasons: list[ReasonOut]
    factors: list[dict[str, Any]]
    acceleration_opportunities: list[dict[str, Any]]
    llm_metadata: dict[str, Any] | None
    predicted_at: datetime
    valid_until: datetime


class PredictionOut(Camel):
    prediction: PredictionDoc
    cached: bool = Field(description="true when a still-valid stored prediction was returned")


class StoredPredictionOut(Camel):
    id: int
    is_expired: bool
    prediction: PredictionDoc


class FeaturesOut(Camel):
    features: dict[str, dict[str, Any]] = Field(
        description="demographic, behavioral, temporal, engagement and custom feature values")


class SuccessOut(Camel):
    success: bool


class JobAccepted(Camel):
    job_id: int


class JobOut(Camel):
    id: int
    kind: str
    status: str
    processed: int
    total: int
    failed: int
    engine: str
    config_id: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None


class ModelVersionOut(Camel):
    id: int
    kind: str
    version: int
    status: str
    created_at: datetime
    activated_at: datetime | None
    metrics: dict[str, Any]
    training_summary: dict[str, Any]


class ModelList(Camel):
    models: list[ModelVersionOut]


class ImportanceOut(Camel):
    name: str
    label: str = Field(description="the feature's name for people")
    importance: float
    category: str


class FeatureImportanceOut(Camel):
    importance: list[ImportanceOut]
    source: str
    model_version: int | None


class TypeAccuracy(Camel):
    total: int
    validated: int
    accurate: int
    accuracy: float | None


class OutcomeMetrics(Camel):
    conversion: list[dict[str, Any]]
    time_to_close: list[dict[str, Any]]


class AccuracyOut(Camel):
    total_predictions: int
    validated_count: int
    accurate_count: int
    accuracy: float | None = Field(description="share of validated predictions marked accurate")
    by_type: dict[str, TypeAccuracy]
    outcomes: OutcomeMetrics
    models: list[dict[str, Any]]
