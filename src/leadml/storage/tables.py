"""ORM tables for the domain model (SPEC section 2). API schemas live in api/schemas.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadml.storage.types import EpochMillis

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(EpochMillis)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSession(Base):
    """A signed-in ML Insights page: the cookie carries a random token, only its hash is stored.

    Bound to the API key that opened it, so revoking the key ends it; signing out deletes it."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    expires_at: Mapped[datetime] = mapped_column(EpochMillis)


class ServerSecret(Base):
    """Per-installation secrets generated on first use (e.g. the session-signing secret)."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(EpochMillis)


class ScoringConfig(Base):
    __tablename__ = "scoring_configs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    hot_threshold: Mapped[float] = mapped_column(Float, default=80)
    warm_threshold: Mapped[float] = mapped_column(Float, default=50)
    cold_threshold: Mapped[float] = mapped_column(Float, default=20)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    prediction_validity_days: Mapped[int] = mapped_column(Integer, default=7)
    # Names of lead attributes used as model features; empty list means "all".
    feature_attributes: Mapped[list] = mapped_column(JSON, default=list)
    llm_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    llm_mode: Mapped[str] = mapped_column(String(20), default="narrative")
    # Priority tiers: fixed bands on the 0-100 priority score (top >= 75, high >= 50, medium >= 25).
    priority_top_band: Mapped[float] = mapped_column(Float, default=75.0, server_default="75")
    priority_high_band: Mapped[float] = mapped_column(Float, default=50.0, server_default="50")
    priority_medium_band: Mapped[float] = mapped_column(Float, default=25.0, server_default="25")
    # Hours between automatic bulk refreshes of expired or changed leads; None = off (the default).
    refresh_interval_hours: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    updated_at: Mapped[datetime] = mapped_column(EpochMillis)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("config_id", "email"),
        UniqueConstraint("config_id", "external_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("scoring_configs.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    company: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))
    pipeline_stage: Mapped[str | None] = mapped_column(String(100))
    pipeline_value: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    updated_at: Mapped[datetime] = mapped_column(EpochMillis)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sequence_name: Mapped[str | None] = mapped_column(String(200))
    sequence_step: Mapped[int | None] = mapped_column(Integer)
    sequence_total: Mapped[int | None] = mapped_column(Integer)
    sequence_active: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome_status: Mapped[str] = mapped_column(String(20), default="open")
    outcome_at: Mapped[datetime | None] = mapped_column(EpochMillis)
    outcome_value: Mapped[float | None] = mapped_column(Float)
    # Set when the lead arrived with its outcome (an export): its fields are as exported, after the
    # outcome. "undated": neither creation nor close date was given (both are the import time);
    # "dated": one of them was given (it orders the hold-out); "timed": both (time to close known).
    snapshot: Mapped[str | None] = mapped_column(String(10))


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("config_id", "event_id"),
        Index("ix_activities_lead_time", "lead_id", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("scoring_configs.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(EpochMillis)
    direction: Mapped[str] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(200))
    medium: Mapped[str | None] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict | None] = mapped_column(JSON)
    event_id: Mapped[str | None] = mapped_column(String(200))


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("scoring_configs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # conversion | time_to_close
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="candidate")  # candidate|active|retired
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    activated_at: Mapped[datetime | None] = mapped_column(EpochMillis)
    training_summary: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    feature_importance: Mapped[list] = mapped_column(JSON, default=list)
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_lead_type", "lead_id", "type", "predicted_at"),
        # Rankings: a config's current predictions of a type, best priority first.
        Index("ix_predictions_ranking", "config_id", "type", "status", "priority_score"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("scoring_configs.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    probability: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    predicted_days: Mapped[float | None] = mapped_column(Float)
    interval_low: Mapped[float | None] = mapped_column(Float)
    interval_high: Mapped[float | None] = mapped_column(Float)
    predicted_score: Mapped[float | None] = mapped_column(Float)
    score_level: Mapped[str | None] = mapped_column(String(10))
    priority_score: Mapped[float | None] = mapped_column(Float)
    priority_tier: Mapped[str | None] = mapped_column(String(10))
    # The lead's strongest positive reasons (feature names, comma-separated), for ranking insights.
    top_reasons: Mapped[str | None] = mapped_column(String(400))
    # The full response body as returned when fresh, so a cached read returns every field.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(10))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    rule_based_only: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="ACTIVE")
    was_accurate: Mapped[bool | None] = mapped_column(Boolean)
    validated_at: Mapped[datetime | None] = mapped_column(EpochMillis)
    valid_until: Mapped[datetime] = mapped_column(EpochMillis)
    predicted_at: Mapped[datetime] = mapped_column(EpochMillis, index=True)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    config_id: Mapped[int] = mapped_column(ForeignKey("scoring_configs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # bulk_predict | train
    status: Mapped[str] = mapped_column(String(20), default="queued")
    processed: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    engine: Mapped[str] = mapped_column(String(10), default="local")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(EpochMillis)
    started_at: Mapped[datetime | None] = mapped_column(EpochMillis)
    finished_at: Mapped[datetime | None] = mapped_column(EpochMillis)
    # The process running (or about to run) the job, "host:boot:pid:start" (jobs/liveness.py), and its
    # last sign of life: a job whose worker died is found and closed instead of staying "running".
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(EpochMillis)
