"""Leads, their activities and outcomes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadml.api.deps import IdPath, OffsetQuery, SessionDep, SettingsDep, TenantDep
from leadml.api.schemas import ActivitiesBatchIn, ActivitiesOut, LeadList, LeadOut, LeadsBatchIn, LeadsBatchOut
from leadml.ingest import service
from leadml.jobs import train as train_jobs
from leadml.ingest.schemas import LeadPatch, OutcomeIn
from leadml.storage import configs
from leadml.storage import leads as lead_store

router = APIRouter(tags=["leads"])
MAX_PAGE = 200  # leads per page (a lead's attributes take up to 32 KB)


@router.post("/{config_id}/leads", response_model=LeadsBatchOut)
def upsert_leads(config_id: IdPath, body: LeadsBatchIn, session: SessionDep, tenant_id: TenantDep):
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    result = service.upsert_leads(session, config=config, rows=body.leads)
    return LeadsBatchOut(leads=[LeadOut.of(lead) for lead in result.leads], created=result.created, updated=result.updated)


@router.get("/{config_id}/leads", response_model=LeadList)
def list_leads(
    config_id: IdPath,
    session: SessionDep,
    tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: OffsetQuery = 0,
):
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    rows, total = lead_store.list_leads(session, config_id=config_id, limit=limit, offset=offset)
    return LeadList(leads=[LeadOut.of(lead) for lead in rows], total=total, limit=limit, offset=offset)


@router.get("/leads/{lead_id}", response_model=LeadOut)
def get_lead(lead_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    return LeadOut.of(lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id))


@router.patch("/leads/{lead_id}", response_model=LeadOut)
def update_lead(lead_id: IdPath, body: LeadPatch, session: SessionDep, tenant_id: TenantDep):
    lead = lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    config = configs.get_config(session, tenant_id=tenant_id, config_id=lead.config_id)
    return LeadOut.of(service.update_lead(session, lead=lead, config=config, patch=body))


@router.post("/leads/{lead_id}/outcome", response_model=LeadOut)
def record_outcome(lead_id: IdPath, body: OutcomeIn, request: Request, session: SessionDep, tenant_id: TenantDep,
                   settings: SettingsDep):
    lead = lead_store.get_lead(session, tenant_id=tenant_id, lead_id=lead_id)
    config = configs.get_config(session, tenant_id=tenant_id, config_id=lead.config_id)
    out = LeadOut.of(service.record_outcome(session, lead=lead, config=config, outcome=body))
    if train_jobs.retrain_due(session, config=config, every=settings.retrain_after_outcomes):
        job = train_jobs.schedule_training(session, config=config, reason="automatic: new outcomes")
        request.state.after_commit.append(lambda: request.app.state.jobs.submit_training(job.id, config.id))
    return out


@router.post("/{config_id}/activities", response_model=ActivitiesOut)
def add_activities(config_id: IdPath, body: ActivitiesBatchIn, session: SessionDep, tenant_id: TenantDep):
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    result = service.add_activities(session, config=config, rows=body.activities)
    return ActivitiesOut(accepted=result.accepted, duplicates=result.duplicates)
