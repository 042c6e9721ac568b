"""Bulk predictions (the seed's endpoint): a few leads answered at once, more as a job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from leadml.api.deps import IdPath, SessionDep, TenantDep
from leadml.api.schemas import CamelIn
from leadml.jobs.bulk import schedule_bulk
from leadml.scoring import bulk
from leadml.storage import configs

router = APIRouter(tags=["bulk"])
SYNC_LIMIT = 100  # up to this many leads are answered in the response; more become a job


class BulkPredictIn(CamelIn):
    limit: int = Field(default=50, ge=1, le=10_000_000, description="how many leads, best score first")
    min_score: float = Field(default=0, ge=0, le=100, description="only leads whose current score is at least this")
    force_refresh: bool = Field(default=False, description="re-score leads whose stored prediction is still valid")
    rule_based_only: bool = False
    all: bool = Field(default=False, description="every active, open lead of the config (a job)")
    async_: bool = Field(default=False, alias="async", description="run as a job even for a small limit")


@router.post("/{config_id}/ml/bulk-predict", responses={202: {"description": "`{jobId}`: follow it at /jobs/{id}"}})
def bulk_predict(config_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep,
                 body: BulkPredictIn | None = None) -> Any:
    """Up to 100 leads: `{processed, successful, failed, predictions:[{leadId, result, error}]}`.
    A larger limit, `all` or `async`: 202 `{jobId}` (409 while another bulk job of the config runs)."""
    body = body or BulkPredictIn()
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    wanted = bulk.BulkRequest(limit=None if body.all else body.limit, min_score=body.min_score,
                              force_refresh=body.force_refresh, rule_based_only=body.rule_based_only)
    loader = request.app.state.model_loader
    if body.all or body.async_ or body.limit > SYNC_LIMIT:
        job = schedule_bulk(session, config=config, request=wanted)
        request.state.after_commit.append(lambda: request.app.state.jobs.submit_bulk(job.id, loader))
        return JSONResponse(status_code=202, content={"jobId": job.id})
    plan = bulk.plan(session, config=config, request=wanted, model_loader=loader)
    summary, documents = bulk.score_in_session(session, plan, request=wanted)
    predictions = [
        {"leadId": lead_id, "result": documents.get(lead_id),
         "error": None if lead_id in documents else "not scored"}
        for lead_id in plan.chosen
    ]
    return {"processed": len(predictions), "successful": summary.successful, "failed": summary.failed,
            "reused": summary.reused, "predictions": predictions}
