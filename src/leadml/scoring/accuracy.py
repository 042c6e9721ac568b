"""Accuracy: the seed's user feedback (validated predictions), counted consistently per type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from leadml.scoring.documents import PREDICTION_TYPES
from leadml.storage import predictions as prediction_store


def _ratio(accurate: int, validated: int) -> float | None:
    return round(accurate / validated, 4) if validated else None


def validation_accuracy(session: Session, *, config_id: int, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    rows = prediction_store.in_period(session, config_id=config_id, start=start, end=end)
    by_type: dict[str, dict[str, Any]] = {}
    for prediction_type in PREDICTION_TYPES:
        of_type = [r for r in rows if r.type == prediction_type]
        validated = [r for r in of_type if r.was_accurate is not None]
        accurate = sum(1 for r in validated if r.was_accurate)
        by_type[prediction_type] = {
            "total": len(of_type), "validated": len(validated), "accurate": accurate,
            "accuracy": _ratio(accurate, len(validated)),
        }
    validated_count = sum(t["validated"] for t in by_type.values())
    accurate_count = sum(t["accurate"] for t in by_type.values())
    return {
        "totalPredictions": len(rows),
        "validatedCount": validated_count,
        "accurateCount": accurate_count,
        # Share of validated predictions users marked accurate (None until any are validated).
        "accuracy": _ratio(accurate_count, validated_count),
        "byType": by_type,
    }
