"""`leadml bulk-predict`: score a config's leads in bulk (the same job the API runs), with a progress bar."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from leadml import db, errors
from leadml.cli import app
from leadml.cli.admin import fail
from leadml.cli.common import console, open_database, out
from leadml.jobs import runner
from leadml.jobs.bulk import bulk_work, schedule_bulk
from leadml.scoring.bulk import CHUNK_LEADS, BulkRequest
from leadml.scoring.models import ModelLoader
from leadml.storage import configs
from leadml.storage import jobs as job_store


@app.command("bulk-predict")
def bulk_predict(
    config: Annotated[int, typer.Option("--config", help="Scoring config id")],
    engine: Annotated[str, typer.Option(help="local (this process) or dask (an existing Dask cluster)")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the N best-scored leads (default: all active, open leads)")] = None,
    min_score: Annotated[float, typer.Option(help="Only leads whose current score is at least this")] = 0.0,
    force_refresh: Annotated[bool, typer.Option(help="Re-score leads whose stored prediction is still valid")] = False,
    rule_based_only: bool = False,
    chunk_leads: Annotated[int, typer.Option(help="Leads per chunk (memory vs overhead)")] = CHUNK_LEADS,
    as_json: Annotated[bool, typer.Option("--json", help="Print the job result as JSON")] = False,
) -> None:
    """Predict every active, open lead of a config (or the best --limit) and store the results for rankings."""
    if engine not in ("local", "dask"):
        fail(errors.InvalidInput("--engine must be local or dask", details={"engine": engine}))
    if engine == "dask" and not scheduler:
        fail(errors.InvalidInput("--engine dask needs --scheduler ADDRESS (tcp://host:8786)"))
    database = open_database()
    request = BulkRequest(limit=limit, min_score=min_score, force_refresh=force_refresh,
                          rule_based_only=rule_based_only, chunk_leads=chunk_leads)
    try:
        with db.transaction(database.sessions) as session:
            job_id = schedule_bulk(session, config=configs.get_config(session, tenant_id=None, config_id=config),
                                   request=request, engine=engine).id
    except errors.LeadMLError as exc:
        fail(exc)
    work = bulk_work(database.engine, database.sessions, job_id, model_loader=ModelLoader(),
                     dask_scheduler=scheduler if engine == "dask" else None)
    with Progress(TextColumn("scoring leads"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("bulk", total=None, rate="")

        def show(done: int, total: int) -> None:
            elapsed = bar.tasks[task].elapsed or 0
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:,.0f} leads/s" if elapsed else "")

        runner.run(database.sessions, job_id, work, on_progress=show)
    with db.transaction(database.sessions) as session:
        record = job_store.to_dict(job_store.get_job(session, tenant_id=None, job_id=job_id))
    if record["status"] != "succeeded":
        console.print(f"[red]bulk scoring {record['status']}[/red]: {record['error']}")
        raise typer.Exit(code=1)
    result = record["result"]
    if as_json:
        out.print_json(json.dumps({"jobId": job_id, **result}))
        return
    out.print(f"job {job_id}: {result['successful']:,} leads scored with {result['source']}"
              f"{' v' + str(result['modelVersion']) if result['modelVersion'] else ''}"
              f" ({result['reused']:,} still valid, reused) in {result['seconds']:.1f} s")
