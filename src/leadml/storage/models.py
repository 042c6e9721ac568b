"""Model versions per config and kind (conversion / time_to_close)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadml import errors
from leadml.storage.tables import ModelVersion

KINDS = ("conversion", "time_to_close")


@dataclass(frozen=True)
class ActiveVersions:
    """Which versions a config predicts with: read with every prediction, so that a version activated
    by any process (a training job, another server) is used from the next request on."""

    conversion_id: int | None
    conversion_version: int | None
    survival_id: int | None


def active_columns(config_id: Any) -> tuple[Any, Any, Any]:
    """Scalar subqueries for ActiveVersions of the config `config_id` (a value or a column to correlate
    with), so that a caller can read them in the same query as what it loads anyway."""

    def active_of(kind: str, column: Any) -> Any:
        return (select(column).where(ModelVersion.config_id == config_id, ModelVersion.kind == kind,
                                     ModelVersion.status == "active").limit(1).scalar_subquery())

    return (active_of("conversion", ModelVersion.id), active_of("conversion", ModelVersion.version),
            active_of("time_to_close", ModelVersion.id))


def active_versions(session: Session, *, config_id: int) -> ActiveVersions:
    return ActiveVersions(*session.execute(select(*active_columns(config_id))).one())


def artifact(session: Session, *, version_id: int) -> bytes | None:
    """Only the artifact column: the rest of the row is not needed to load a model."""
    return session.scalar(select(ModelVersion.artifact).where(ModelVersion.id == version_id))


def active(session: Session, *, config_id: int, kind: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.config_id == config_id, ModelVersion.kind == kind,
                                                     ModelVersion.status == "active"))


def active_id(session: Session, *, config_id: int, kind: str) -> int | None:
    return session.scalar(select(ModelVersion.id).where(ModelVersion.config_id == config_id, ModelVersion.kind == kind,
                                                        ModelVersion.status == "active"))


def add_version(session: Session, *, config_id: int, kind: str, artifact: bytes, metrics: dict[str, Any],
                training_summary: dict[str, Any], feature_importance: list[dict[str, Any]]) -> ModelVersion:
    number = (session.scalar(select(func.max(ModelVersion.version)).where(
        ModelVersion.config_id == config_id, ModelVersion.kind == kind)) or 0) + 1
    row = ModelVersion(config_id=config_id, kind=kind, version=number, status="candidate", created_at=datetime.now(UTC),
                       artifact=artifact, metrics=metrics, training_summary=training_summary,
                       feature_importance=feature_importance)
    session.add(row)
    session.flush()
    return row


def activate(session: Session, *, version: ModelVersion) -> ModelVersion:
    current = active(session, config_id=version.config_id, kind=version.kind)
    if current is not None and current.id != version.id:
        current.status = "retired"
        session.flush()
    version.status = "active"
    version.activated_at = datetime.now(UTC)
    session.flush()
    return version


def get_version(session: Session, *, config_id: int, version_id: int) -> ModelVersion:
    row = session.get(ModelVersion, version_id)
    if row is None or row.config_id != config_id:
        raise errors.NotFound(f"model version {version_id} not found")
    return row


def list_versions(session: Session, *, config_id: int) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).where(ModelVersion.config_id == config_id)
                                .order_by(ModelVersion.kind, ModelVersion.version.desc())))


def to_dict(row: ModelVersion) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "version": row.version, "status": row.status,
        "createdAt": row.created_at.isoformat(), "activatedAt": row.activated_at.isoformat() if row.activated_at else None,
        "metrics": row.metrics, "trainingSummary": row.training_summary,
        "promotion": (row.training_summary or {}).get("promotion"),
    }


def training_status(session: Session, *, config_id: int) -> dict[str, Any]:
    """Per kind: the active version (None = the rules answer) and what the latest training run did.

    A training run without enough closed leads trains no time-to-close version; its reason is kept
    on that run's conversion version and shown here.
    """
    latest = session.scalar(select(ModelVersion).where(ModelVersion.config_id == config_id,
                                                       ModelVersion.kind == "conversion")
                            .order_by(ModelVersion.version.desc()).limit(1))
    summary = (latest.training_summary or {}) if latest is not None else {}
    status = {}
    for kind, key in (("conversion", "conversion"), ("time_to_close", "timeToClose")):
        current = active(session, config_id=config_id, kind=kind)
        last = summary.get("promotion") if kind == "conversion" else summary.get("timeToClose")
        reason = None
        if last is not None:
            reason = last.get("reason") or last.get("skipped")
        status[key] = {"source": "model" if current is not None else "rules",
                       "activeVersion": current.version if current is not None else None,
                       "lastTraining": None if last is None else {
                           "promoted": bool(last.get("promoted", False)), "reason": reason,
                           **({"evidence": last["evidence"]} if "evidence" in last else {})}}
    return status
