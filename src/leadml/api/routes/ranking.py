"""Top priority leads of a config, from the stored predictions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leadml.api.deps import IdPath, SessionDep, TenantDep
from leadml.api.schemas import Camel
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
