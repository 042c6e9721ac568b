"""Ranked leads of a config (ranked-leads, top-leads, leads-by-tier), from the stored predictions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from pydantic import ConfigDict

from leadml.api.deps import IdPath, OffsetQuery, SessionDep, TenantDep
from leadml.api.schemas import Camel
from leadml.scoring import rankings
from leadml.storage import configs
from leadml.storage import ranking as ranking_store

router = APIRouter(tags=["ranking"])


class RankedLead(Camel):
    lead_id: int
    email: str | None
    name: str | None
    company: str | None
    title: str | None
    score: float | None
    score_level: str | None
    priority_rank: int
    priority_tier: str | None
    priority_score: float | None
    conversion_probability: float | None
    predicted_days: float | None
    reasoning: str | None


class RankedLeads(Camel):
    leads: list[RankedLead]


@router.get("/{config_id}/ml/top-leads", response_model=RankedLeads, response_model_by_alias=True)
def top_leads(config_id: IdPath, session: SessionDep, tenant_id: TenantDep,
              n: Annotated[int, Query(ge=1, le=1000, description="how many leads, best first")] = 10):
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    return {"leads": ranking_store.top_leads(session, config_id=config_id, n=n)}


class Insights(Camel):
    model_config = ConfigDict(extra="allow")  # e.g. an LLM-written `summary`
    top_lead_count: int
    avg_conversion_probability: float | None
    common_patterns: list[str]
    ranked_lead_count: int
    tier_counts: dict[str, int]
    priority_bands: dict[str, float]


class RankedLeadsPage(Camel):
    rankings: list[RankedLead]
    insights: Insights
    llm_metadata: dict[str, Any] | None
    paging: dict[str, int]


@router.get("/{config_id}/ml/ranked-leads", response_model=RankedLeadsPage, response_model_by_alias=True)
def ranked_leads(
    config_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="leads per page, best first")] = 20,
    offset: OffsetQuery = 0,
    min_score: Annotated[float, Query(alias="minScore", ge=0, le=100)] = 0,
    min_probability: Annotated[float | None, Query(alias="minProbability", ge=0, le=1)] = None,
):
    """Stored current predictions, best priority first, with insights over the whole ranked set."""
    return rankings.ranked_leads(session, tenant_id=tenant_id, config_id=config_id, limit=limit, offset=offset,
                                 min_score=min_score, min_probability=min_probability,
                                 llm_service=getattr(request.app.state, "llm", None))


@router.get("/{config_id}/ml/leads-by-tier", response_model=RankedLeads, response_model_by_alias=True)
def leads_by_tier(
    config_id: IdPath, session: SessionDep, tenant_id: TenantDep,
    tier: Annotated[Literal["top", "high", "medium", "low"], Query(description="priority tier (default top)")] = "top",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: OffsetQuery = 0,
):
    return {"leads": rankings.leads_by_tier(session, tenant_id=tenant_id, config_id=config_id, tier=tier,
                                            limit=limit, offset=offset)}
