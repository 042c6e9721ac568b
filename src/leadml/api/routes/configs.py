"""Scoring configurations."""

from __future__ import annotations

from fastapi import APIRouter

from leadml.api.deps import IdPath, SessionDep, TenantDep
from leadml.api.schemas import ConfigCreate, ConfigList, ConfigOut, ConfigUpdate
from leadml.storage import configs

router = APIRouter(tags=["configs"])


@router.post("/configs", status_code=201, response_model=ConfigOut)
def create_config(body: ConfigCreate, session: SessionDep, tenant_id: TenantDep):
    return configs.create_config(session, tenant_id=tenant_id, values=body.model_dump())


@router.get("/configs", response_model=ConfigList)
def list_configs(session: SessionDep, tenant_id: TenantDep):
    return {"configs": configs.list_configs(session, tenant_id=tenant_id)}


@router.get("/configs/{config_id}", response_model=ConfigOut)
def get_config(config_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    return configs.get_config(session, tenant_id=tenant_id, config_id=config_id)


@router.patch("/configs/{config_id}", response_model=ConfigOut)
def update_config(config_id: IdPath, body: ConfigUpdate, session: SessionDep, tenant_id: TenantDep):
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    return configs.update_config(session, config=config, values=body.model_dump(exclude_unset=True))
