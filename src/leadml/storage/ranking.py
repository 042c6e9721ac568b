"""Ranked leads: the stored, still-valid conversion predictions of a config, best priority first.

Rankings read what was already predicted (the bulk job or single predictions wrote it) and never
predict on the fly, so a list is cheap to show and matches each lead's prediction panel. Only
active, open leads count (inactive, converted and lost leads are left out), and only a lead's
newest ACTIVE prediction.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from leadml.storage.tables import Lead, Prediction

TIERS = ("top", "high", "medium", "low")


def _current(config_id: int, now: datetime, *, min_score: float | None = None, min_probability: float | None = None,
             tier: str | None = None):
    newer = aliased(Prediction)
    conditions = [
        Prediction.config_id == config_id,
        Prediction.type == "CONVERSION",
        Prediction.status == "ACTIVE",
        Prediction.valid_until > now,
        Lead.is_active.is_(True),
        Lead.outcome_status == "open",
        # A lead's newest ACTIVE prediction only (writers expire the older ones; this guards a race).
        ~select(newer.id).where(newer.lead_id == Prediction.lead_id, newer.type == "CONVERSION",
                                newer.status == "ACTIVE", newer.id > Prediction.id).exists(),
    ]
    if min_score:
        conditions.append(Prediction.predicted_score >= min_score)
    if min_probability:
        conditions.append(Prediction.probability >= min_probability)
    if tier is not None:
        conditions.append(Prediction.priority_tier == tier)
    return and_(*conditions)


def ranked(session: Session, *, config_id: int, limit: int, offset: int = 0, min_score: float | None = None,
           min_probability: float | None = None, tier: str | None = None,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """RankedLead dicts, best priority first (priorityRank counts from 1 across pages)."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(Prediction, Lead)
        .join(Lead, Lead.id == Prediction.lead_id)
        .where(_current(config_id, now, min_score=min_score, min_probability=min_probability, tier=tier))
        # Ties broken by probability, then lead id, so the order is stable between calls and pages.
        .order_by(Prediction.priority_score.desc(), Prediction.probability.desc(), Lead.id)
        .limit(limit).offset(offset)
    ).all()
    return [_ranked(prediction, lead, rank) for rank, (prediction, lead) in enumerate(rows, start=offset + 1)]


def top_leads(session: Session, *, config_id: int, n: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The n best leads by priority score as RankedLead dicts (priorityRank 1 = best)."""
    return ranked(session, config_id=config_id, limit=n, now=now)


def summary(session: Session, *, config_id: int, min_score: float | None = None,
            min_probability: float | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Figures over the whole ranked set (not just one page): how many leads, how many in the top
    tier, the mean probability, and per tier how often each feature is among a lead's top reasons."""
    now = now or datetime.now(UTC)
    where = _current(config_id, now, min_score=min_score, min_probability=min_probability)
    total, top, mean = session.execute(
        select(func.count(), func.sum(case((Prediction.priority_tier == "top", 1), else_=0)),
               func.avg(Prediction.probability))
        .select_from(Prediction).join(Lead, Lead.id == Prediction.lead_id).where(where)
    ).one()
    reasons: dict[str, Counter] = {tier: Counter() for tier in TIERS}
    per_tier: Counter = Counter()
    for tier, top_reasons, count in session.execute(
        select(Prediction.priority_tier, Prediction.top_reasons, func.count())
        .select_from(Prediction).join(Lead, Lead.id == Prediction.lead_id).where(where)
        .group_by(Prediction.priority_tier, Prediction.top_reasons)
    ):
        per_tier[tier] += count
        for feature in (top_reasons or "").split(","):
            if feature and tier in reasons:
                reasons[tier][feature] += count
    return {"total": int(total or 0), "top": int(top or 0), "meanProbability": None if mean is None else float(mean),
            "perTier": dict(per_tier), "reasons": {t: dict(c) for t, c in reasons.items()}}


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
