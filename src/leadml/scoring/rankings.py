"""Ranked leads with insights, from stored predictions only (SPEC section 6).

`insights` describe the whole ranked set, not the page: how many leads are in the top tier, their
mean conversion probability, and `commonPatterns`, the reasons that set the top-tier leads apart
(a feature that is among the top reasons of far more top-tier leads than of ranked leads overall),
in words. `llmMetadata` says what produced the rankings; a narrative (LLM) layer can add its own
text under `insights["narrative"]` (see `NARRATIVE_HOOK`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from leadml import errors
from leadml.scoring import llm
from leadml.storage import configs
from leadml.storage import ranking as ranking_store

MAX_PATTERNS = 5
MIN_SHARE = 0.2  # a pattern must hold for at least a fifth of the reference tier
MIN_LIFT = 1.2  # and be this many times as common there as in the whole ranked set

# Optional: fn(insights, rankings) -> extra insight fields (e.g. an LLM-written narrative).
NARRATIVE_HOOK: Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]] | None = None


def words(feature: str) -> str:
    if feature.startswith("custom."):
        return feature[len("custom."):].replace("_", " ")
    if feature == "inboundActivity":
        return "inbound activity"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", feature.split("#")[0]).lower()


def common_patterns(summary: dict[str, Any]) -> list[str]:
    """Sentences on the features that set the best tier apart (top, else the best non-empty tier)."""
    per_tier, reasons = summary["perTier"], summary["reasons"]
    tier = next((t for t in ranking_store.TIERS if per_tier.get(t)), None)
    total = summary["total"]
    if tier is None or not total:
        return []
    in_tier = per_tier[tier]
    overall: dict[str, int] = {}
    for counts in reasons.values():
        for feature, count in counts.items():
            overall[feature] = overall.get(feature, 0) + count
    scored = []
    for feature, count in reasons.get(tier, {}).items():
        share, share_all = count / in_tier, overall[feature] / total
        lift = share / share_all if share_all else float("inf")
        if share >= MIN_SHARE and (lift >= MIN_LIFT or in_tier == total):
            scored.append((share * min(lift, 10.0), feature, share, share_all))
    scored.sort(reverse=True)
    label = f"{tier}-tier"
    return [
        f"{words(feature).capitalize()} is among the top reasons for {share:.0%} of {label} leads "
        f"(vs {share_all:.0%} of all ranked leads)."
        for _, feature, share, share_all in scored[:MAX_PATTERNS]
    ]


def ranked_leads(session: Session, *, tenant_id: int, config_id: int, limit: int, offset: int = 0,
                 min_score: float | None = None, min_probability: float | None = None,
                 llm_service=None) -> dict[str, Any]:
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    rankings = ranking_store.ranked(session, config_id=config.id, limit=limit, offset=offset, min_score=min_score,
                                    min_probability=min_probability)
    summary = ranking_store.summary(session, config_id=config.id, min_score=min_score, min_probability=min_probability)
    insights: dict[str, Any] = {
        "topLeadCount": summary["top"],
        "avgConversionProbability": None if summary["meanProbability"] is None else round(summary["meanProbability"], 4),
        "commonPatterns": common_patterns(summary),
        "rankedLeadCount": summary["total"],
        "tierCounts": {t: summary["perTier"].get(t, 0) for t in ranking_store.TIERS},
        "priorityBands": dict(zip(("top", "high", "medium"), configs.priority_bands(config), strict=True)),
    }
    if NARRATIVE_HOOK is not None:
        insights.update(NARRATIVE_HOOK(insights, rankings))
    # With the config's LLM on, its phrases replace the computed patterns (numbers stay computed).
    insights, llm_metadata = llm.narrate_ranking_insights(llm_service, config=config, tenant=config.tenant_id,
                                                          rankings=rankings, insights=insights)
    return {"rankings": rankings, "insights": insights, "llmMetadata": llm_metadata,
            "paging": {"limit": limit, "offset": offset, "total": summary["total"]}}


def leads_by_tier(session: Session, *, tenant_id: int, config_id: int, tier: str, limit: int,
                  offset: int = 0) -> list[dict[str, Any]]:
    if tier not in ranking_store.TIERS:
        raise errors.InvalidInput(f"unknown tier {tier!r}", details=list(ranking_store.TIERS))
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    return ranking_store.ranked(session, config_id=config_id, limit=limit, offset=offset, tier=tier)
