"""Training jobs, model versions, feature importance and jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request

from leadml.api.deps import IdPath, SessionDep, TenantDep
from leadml.api.schemas import FeatureImportanceOut, JobAccepted, JobOut, ModelList, ModelVersionOut
from leadml.api.labels import with_labels
from leadml.jobs import runner
from leadml.jobs.train import schedule_training
from leadml.predict.rules_spec import rule_weights
from leadml.storage import configs
from leadml.storage import jobs as job_store
from leadml.storage import models as model_store

router = APIRouter(tags=["models"])


@router.post("/{config_id}/ml/train", status_code=202, responses={202: {"model": JobAccepted}})
def train(config_id: IdPath, request: Request, session: SessionDep, tenant_id: TenantDep):
    config = configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    job = schedule_training(session, config=config)
    # The job starts once this request's transaction has committed (see deps: commit before response).
    request.state.after_commit.append(lambda: request.app.state.jobs.submit_training(job.id, config_id))
    return {"jobId": job.id}


@router.get("/{config_id}/ml/models", responses={200: {"model": ModelList}})
def list_models(config_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    return {"models": [model_store.to_dict(v) for v in model_store.list_versions(session, config_id=config_id)],
            "status": model_store.training_status(session, config_id=config_id)}


@router.post("/{config_id}/ml/models/{version_id}/activate", responses={200: {"model": ModelVersionOut}})
def activate(config_id: IdPath, version_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    version = model_store.get_version(session, config_id=config_id, version_id=version_id)
    return model_store.to_dict(model_store.activate(session, version=version))


@router.get("/{config_id}/ml/feature-importance", responses={200: {"model": FeatureImportanceOut}})
def feature_importance(config_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    configs.get_config(session, tenant_id=tenant_id, config_id=config_id)
    active = model_store.active(session, config_id=config_id, kind="conversion")
    if active is not None:
        return {"importance": with_labels(active.feature_importance), "source": "model", "modelVersion": active.version}
    return {"importance": with_labels(rule_weights()), "source": "rules", "modelVersion": None}


@router.get("/jobs/{job_id}", responses={200: {"model": JobOut}})
def get_job(job_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    return job_store.to_dict(job_store.get_job(session, tenant_id=tenant_id, job_id=job_id))


@router.post("/jobs/{job_id}/cancel", responses={200: {"model": JobOut}})
def cancel_job(job_id: IdPath, session: SessionDep, tenant_id: TenantDep):
    job = job_store.get_job(session, tenant_id=tenant_id, job_id=job_id)
    return job_store.to_dict(runner.cancel(session, job))
