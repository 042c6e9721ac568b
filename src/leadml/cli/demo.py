"""`leadml demo`: a working service with data and trained models, in one command."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import func, select

from leadml import db
from leadml.cli import app
from leadml.cli.common import console, open_database, out
from leadml.jobs import runner
from leadml.jobs.train import schedule_training, training_work
from leadml.jobs.bulk import bulk_work, schedule_bulk
from leadml.scoring.bulk import BulkRequest
from leadml.scoring.models import ModelLoader
from leadml.scoring.training import TrainingOptions
from leadml.storage import bulk, configs, tenants
from leadml.storage import jobs as job_store
from leadml.storage.tables import Lead, Tenant
from leadml.synth import generate_funnel

DEMO_TENANT = "demo"
DEMO_CONFIG = "Demo funnel"


def _score_open_leads(database, config_id: int) -> dict:
    """Score every active, open lead through the bulk pipeline (the job the API and CLI run), so
    that rankings (which read stored predictions) have content."""
    with db.transaction(database.sessions) as session:
        job_id = schedule_bulk(session, config=configs.get_config(session, tenant_id=None, config_id=config_id),
                               request=BulkRequest(limit=None), reason="demo").id
    runner.run(database.sessions, job_id, bulk_work(database.engine, database.sessions, job_id,
                                                    model_loader=ModelLoader()))
    with db.transaction(database.sessions) as session:
        return job_store.to_dict(job_store.get_job(session, tenant_id=None, job_id=job_id))


@app.command()
def demo(
    leads: Annotated[int, typer.Option(help="Synthetic leads to generate on the first run")] = 5000,
    seed: int = 0,
    host: str | None = None,
    port: int | None = None,
    serve: Annotated[bool, typer.Option(help="Serve the API after preparing the data")] = True,
) -> None:
    """Create a demo tenant, config and synthetic leads, train, then serve the API and ML Insights page."""
    database = open_database()
    with db.transaction(database.sessions) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == DEMO_TENANT))
        if tenant is None:
            tenant, key = tenants.create_tenant(session, name=DEMO_TENANT)
        else:
            key = tenants.create_api_key(session, tenant_id=tenant.id)
        config = next((c for c in configs.list_configs(session, tenant_id=tenant.id) if c.name == DEMO_CONFIG), None)
        if config is None:
            config = configs.create_config(session, tenant_id=tenant.id, values={"name": DEMO_CONFIG})
        config_id, tenant_id = config.id, tenant.id
        existing = session.scalar(select(func.count()).select_from(Lead).where(Lead.config_id == config_id)) or 0
    if existing == 0:
        with console.status(f"generating {leads:,} synthetic leads"):
            funnel = generate_funnel(leads, seed=seed)
            bulk.insert_funnel(database.engine, funnel, tenant_id=tenant_id, config_id=config_id)
        console.print(f"{len(funnel.leads):,} leads, {len(funnel.activities):,} activities, "
                      f"{len(funnel.outcomes):,} outcomes loaded into config {config_id}")
    else:
        console.print(f"config {config_id} already has {existing:,} leads; keeping them")
    with db.transaction(database.sessions) as session:
        job_id = schedule_training(session, config=configs.get_config(session, tenant_id=None, config_id=config_id)).id
    options = TrainingOptions.from_settings(database.settings)
    with console.status("training the conversion and time-to-close models"):
        runner.run(database.sessions, job_id, training_work(database.engine, database.sessions, config_id, options))
    with db.transaction(database.sessions) as session:
        job = job_store.to_dict(job_store.get_job(session, tenant_id=None, job_id=job_id))
    if job["status"] == "succeeded":
        conv = job["result"]["conversion"]
        console.print(f"conversion model v{conv['version']}: hold-out AUC {conv['metrics']['auc']:.3f}, "
                      f"ECE {conv['metrics']['ece']:.3f} ({'active' if conv['promoted'] else 'candidate'})")
    else:
        console.print(f"[yellow]training {job['status']}[/yellow]: {job['error']} (predictions use the rules)")
    with console.status("scoring every open lead in bulk"):
        scored = _score_open_leads(database, config_id)
    if scored["status"] == "succeeded":
        console.print(f"scored {scored['result']['successful']:,} open leads in bulk in "
                      f"{scored['result']['seconds']:.1f} s (the ML Insights page ranks them)")
    else:
        console.print(f"[yellow]bulk scoring {scored['status']}[/yellow]: {scored['error']}")
    host = host or database.settings.host
    port = port or database.settings.port
    console.print(f"\nAPI key of tenant {DEMO_TENANT!r} (shown once):")
    out.print(key, soft_wrap=True, highlight=False)
    console.print(
        f"\nconfig id: {config_id}\n"
        f"API:          http://{host}:{port}/api/lead-scoring  (docs at http://{host}:{port}/docs)\n"
        f"ML Insights:  http://{host}:{port}/  (sign in with the key)\n"
        f"try:          curl -s -X POST -H 'Authorization: Bearer {key}' "
        f"http://{host}:{port}/api/lead-scoring/leads/1/ml/predict\n", soft_wrap=True, highlight=False
    )
    if serve:
        import uvicorn

        from leadml.api.app import create_app

        settings = database.settings.model_copy(update={"host": host})  # decides the cookie's Secure flag
        uvicorn.run(create_app(settings, engine=database.engine), host=host, port=port, log_level="info")
