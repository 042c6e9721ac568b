"""Accuracy: the seed's user feedback (validated predictions), counted consistently per type, and
outcome-based metrics.

Counting happens in SQL (GROUP BY type); outcome metrics read one small row per lead with an outcome
(the latest prediction before it, picked in SQL with ROW_NUMBER), never whole prediction rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadml.predict import metrics
from leadml.scoring.documents import PREDICTION_TYPES
from leadml.storage import models as model_store
from leadml.storage.tables import Lead, ModelVersion, Prediction


def _ratio(accurate: int, validated: int) -> float | None:
    return round(accurate / validated, 4) if validated else None


def _in_period(query, start: datetime | None, end: datetime | None):
    if start is not None:
        query = query.where(Prediction.predicted_at >= start)
    if end is not None:
        query = query.where(Prediction.predicted_at < end)
    return query


def validation_accuracy(session: Session, *, config_id: int, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    accurate_case = func.sum(case((Prediction.was_accurate.is_(True), 1), else_=0))
    query = _in_period(
        select(Prediction.type, func.count(), func.count(Prediction.was_accurate), accurate_case)
        .where(Prediction.config_id == config_id)
        .group_by(Prediction.type),
        start, end,
    )
    counts = {row[0]: (int(row[1]), int(row[2]), int(row[3] or 0)) for row in session.execute(query)}
    by_type: dict[str, dict[str, Any]] = {}
    for prediction_type in PREDICTION_TYPES:
        total, validated, accurate = counts.get(prediction_type, (0, 0, 0))
        by_type[prediction_type] = {
            "total": total, "validated": validated, "accurate": accurate, "accuracy": _ratio(accurate, validated),
        }
    validated_count = sum(t["validated"] for t in by_type.values())
    accurate_count = sum(t["accurate"] for t in by_type.values())
    return {
        "totalPredictions": sum(total for total, _, _ in counts.values()),
        "validatedCount": validated_count,
        "accurateCount": accurate_count,
        # Share of validated predictions users marked accurate (None until any are validated).
        "accuracy": _ratio(accurate_count, validated_count),
        "byType": by_type,
    }


def _outcome_rows(session: Session, *, config_id: int, prediction_type: str, start, end):
    """For each lead whose outcome came after a prediction: the latest such prediction (one row per
    lead, chosen in SQL), as plain columns."""
    latest_first = func.row_number().over(
        partition_by=Prediction.lead_id, order_by=(Prediction.predicted_at.desc(), Prediction.id.desc()))
    ranked = _in_period(
        select(Prediction.lead_id, Prediction.probability, Prediction.predicted_days, Prediction.interval_low,
               Prediction.interval_high, Prediction.source, Prediction.model_version_id, Prediction.predicted_at,
               Lead.outcome_status, Lead.outcome_at, latest_first.label("rank"))
        .join(Lead, Lead.id == Prediction.lead_id)
        .where(Prediction.config_id == config_id, Prediction.type == prediction_type,
               Lead.outcome_status.in_(("converted", "lost")), Prediction.predicted_at < Lead.outcome_at),
        start, end,
    ).subquery()
    return session.execute(select(ranked).where(ranked.c.rank == 1).order_by(ranked.c.lead_id)).all()


def outcome_accuracy(session: Session, *, config_id: int, horizon_days: int, start: datetime | None,
                     end: datetime | None) -> dict[str, Any]:
    """Real metrics from recorded outcomes, per predictor (source and model version)."""
    versions = {v.id: v.version for v in session.scalars(select(ModelVersion).where(ModelVersion.config_id == config_id))}
    groups: dict[tuple, list] = {}
    for row in _outcome_rows(session, config_id=config_id, prediction_type="CONVERSION", start=start, end=end):
        key = (row.source, versions.get(row.model_version_id))
        converted = row.outcome_status == "converted" and (
            (row.outcome_at - row.predicted_at).total_seconds() <= horizon_days * 86400)
        groups.setdefault(key, []).append((row.probability, 1 if converted else 0))
    conversion = []
    for (source, version), pairs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        p = np.array([a for a, _ in pairs], dtype=float)
        y = np.array([b for _, b in pairs], dtype=float)
        entry: dict[str, Any] = {"source": source, "modelVersion": version, "leads": len(pairs),
                                 "converted": int(y.sum())}
        if 0 < y.sum() < len(y):
            entry.update({k: round(v, 4) for k, v in metrics.conversion_report(y, p).items()})
            entry["calibrationCurve"] = metrics.calibration_curve(y, p)
        else:
            entry["note"] = "needs both converted and lost leads for ranking metrics"
            entry["brier"] = round(metrics.brier(y, p), 4)
        conversion.append(entry)
    time_groups: dict[tuple, list] = {}
    for row in _outcome_rows(session, config_id=config_id, prediction_type="TIME_TO_CLOSE", start=start, end=end):
        if row.outcome_status != "converted" or row.predicted_days is None:
            continue
        actual = (row.outcome_at - row.predicted_at).total_seconds() / 86400
        key = (row.source, versions.get(row.model_version_id))
        time_groups.setdefault(key, []).append((actual, row.predicted_days, row.interval_low, row.interval_high))
    time_to_close = []
    for (source, version), rows in time_groups.items():
        actual, predicted, low, high = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
        entry = {"source": source, "modelVersion": version, "leads": len(rows),
                 "mae_days": round(metrics.mae_days(actual, predicted), 2),
                 "interval_coverage": round(metrics.interval_coverage(actual, low, high), 4)}
        if len(rows) > 1 and len(set(actual)) > 1:
            entry["c_index"] = round(metrics.c_index(actual, predicted), 4)
        time_to_close.append(entry)
    return {"conversion": conversion, "timeToClose": time_to_close}


def model_holdout_metrics(session: Session, *, config_id: int) -> list[dict[str, Any]]:
    """Each model version's metrics on its time-based hold-out, as measured when it was trained."""
    out = []
    for version in model_store.list_versions(session, config_id=config_id):
        figures = {k: v for k, v in (version.metrics or {}).items() if k != "calibrationCurve"}
        out.append({"id": version.id, "kind": version.kind, "version": version.version, "status": version.status,
                    "createdAt": version.created_at.isoformat(), "holdout": figures})
    return out
