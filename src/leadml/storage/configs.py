"""Scoring configurations, always looked up within a tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import ScoringConfig

# Field names accepted on create / update (snake_case; the API maps camelCase onto them).
CONFIG_FIELDS = (
    "name",
    "hot_threshold",
    "warm_threshold",
    "cold_threshold",
    "timezone",
    "horizon_days",
    "prediction_validity_days",
    "feature_attributes",
    "llm_enabled",
    "llm_mode",
    "priority_top_band",
    "priority_high_band",
    "priority_medium_band",
    "refresh_interval_hours",
)


def create_config(session: Session, *, tenant_id: int, values: dict[str, Any]) -> ScoringConfig:
    now = datetime.now(UTC)
    config = ScoringConfig(tenant_id=tenant_id, created_at=now, updated_at=now)
    _apply(config, {"feature_attributes": [], **values})
    session.add(config)
    session.flush()
    return config


def get_config(session: Session, *, tenant_id: int | None, config_id: int) -> ScoringConfig:
    """tenant_id None is for trusted local callers (the CLI on the server's own database)."""
    config = session.get(ScoringConfig, config_id)
    if config is None or (tenant_id is not None and config.tenant_id != tenant_id):
        raise errors.NotFound(f"scoring config {config_id} not found")
    return config


def list_configs(session: Session, *, tenant_id: int) -> list[ScoringConfig]:
    return list(session.scalars(select(ScoringConfig).where(ScoringConfig.tenant_id == tenant_id).order_by(ScoringConfig.id)))


def update_config(session: Session, *, config: ScoringConfig, values: dict[str, Any]) -> ScoringConfig:
    _apply(config, values)
    config.updated_at = datetime.now(UTC)
    session.flush()
    return config


def _apply(config: ScoringConfig, values: dict[str, Any]) -> None:
    unknown = set(values) - set(CONFIG_FIELDS)
    if unknown:
        raise errors.InvalidInput("unknown config fields", details=sorted(unknown))
    merged = {f: getattr(config, f) for f in CONFIG_FIELDS} | values
    hot, warm, cold = (merged.get(k) for k in ("hot_threshold", "warm_threshold", "cold_threshold"))
    hot = 80 if hot is None else hot
    warm = 50 if warm is None else warm
    cold = 20 if cold is None else cold
    if not (0 <= cold <= warm <= hot <= 100):
        raise errors.InvalidInput(
            "thresholds must satisfy 0 <= coldThreshold <= warmThreshold <= hotThreshold <= 100",
            details={"hotThreshold": hot, "warmThreshold": warm, "coldThreshold": cold},
        )
    bands = tuple(merged.get(k) for k in ("priority_top_band", "priority_high_band", "priority_medium_band"))
    bands = tuple(d if b is None else b for b, d in zip(bands, (75.0, 50.0, 25.0), strict=True))
    if not (100 >= bands[0] > bands[1] > bands[2] >= 0):
        raise errors.InvalidInput(
            "priority bands must satisfy 100 >= priorityTopBand > priorityHighBand > priorityMediumBand >= 0",
            details={"priorityTopBand": bands[0], "priorityHighBand": bands[1], "priorityMediumBand": bands[2]},
        )
    for key, value in values.items():
        setattr(config, key, value)


def priority_bands(config: ScoringConfig) -> tuple[float, float, float]:
    """The config's tier bands (top, high, medium) on the priority score; defaults 75 / 50 / 25."""
    return (
        75.0 if config.priority_top_band is None else float(config.priority_top_band),
        50.0 if config.priority_high_band is None else float(config.priority_high_band),
        25.0 if config.priority_medium_band is None else float(config.priority_medium_band),
    )
