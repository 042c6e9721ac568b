"""Ranked leads: the stored, still-valid conversion predictions of a config, best priority first.

Ranking reads what was already predicted (one query) rather than predicting on the fly, so the list is
cheap to show and matches exactly what each lead's prediction panel says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadml.storage.tables import Lead, Prediction


def top_leads(session: Session, *, config_id: int, n: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The n best leads by priority score as RankedLead dicts (priorityRank 1 = best).

    Only ACTIVE, unexpired CONVERSION predictions count, and only the newest one per lead, so a
    lead appears at most once whatever its prediction history.
    """
    now = now or datetime.now(UTC)
    newest_first = func.row_number().over(
        partition_by=Prediction.lead_id, order_by=(Prediction.predicted_at.desc(), Prediction.id.desc())
    )
    current = (
        select(Prediction.id.label("prediction_id"), newest_first.label("recency_rank"))
        .where(
            Prediction.config_id == config_id,
            Prediction.type == "CONVERSION",
            Prediction.status == "ACTIVE",
            Prediction.valid_until > now,
        )
        .subquery()
    )
    rows = session.execute(
        select(Prediction, Lead)
        .join(current, current.c.prediction_id == Prediction.id)
        .join(Lead, Lead.id == Prediction.lead_id)
        .where(current.c.recency_rank == 1, Lead.config_id == config_id)
        # Ties broken by probability, then lead id, so the order is stable between calls.
        .order_by(Prediction.priority_score.desc(), Prediction.probability.desc(), Lead.id)
        .limit(n)
    ).all()
    return [_ranked(prediction, lead, rank) for rank, (prediction, lead) in enumerate(rows, start=1)]


def _ranked(prediction: Prediction, lead: Lead, rank: int) -> dict[str, Any]:
    # Figures come from the stored document (rounded as the API returned them), so the list shows
    # exactly what the lead's prediction panel shows; the columns are the fallback.
    payload = prediction.payload or {}
    return {
        "leadId": lead.id,
        "email": lead.email,
        "name": lead.name,
        "company": lead.company,
        "title": lead.title,
        "score": payload.get("predictedScore", prediction.predicted_score),
        "scoreLevel": payload.get("predictedScoreLevel", prediction.score_level),
        "priorityRank": rank,
        "priorityTier": prediction.priority_tier,
        "priorityScore": prediction.priority_score,
        "conversionProbability": payload.get("probability", prediction.probability),
        "predictedDays": payload.get("predictedDays", prediction.predicted_days),
        "reasoning": payload.get("explanation"),
    }
