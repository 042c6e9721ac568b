"""Training from the command line: the same job the API runs, in the foreground."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadml import db, errors
from leadml.cli import app
from leadml.cli.common import console, fail, open_database, out
from leadml.jobs import runner
from leadml.jobs.train import schedule_training, training_work
from leadml.scoring.training import TrainingOptions
from leadml.storage import configs
from leadml.storage import jobs as job_store


EXPECTED = tuple(f"{cls.__name__}: " for cls in (errors.ModelNotReady, errors.InvalidInput, errors.NotFound,
                                                 errors.Conflict))


@app.command()
def train(
    config: Annotated[int, typer.Option("--config", help="Scoring config id")],
    min_converted: Annotated[int | None, typer.Option(help="Converted leads needed (default from settings)")] = None,
    min_lost: Annotated[int | None, typer.Option(help="Not-converted leads needed (default from settings)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    engine: Annotated[str, typer.Option(help="local (this process) or dask (a worker of an existing cluster)")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786")] = None,
) -> None:
    """Train the conversion and time-to-close models of a config; promote them if better."""
    if engine not in ("local", "dask") or (engine == "dask" and not scheduler):
        fail(errors.InvalidInput("--engine is local or dask; dask needs --scheduler ADDRESS"))
    database = open_database()
    options = TrainingOptions.from_settings(database.settings, min_converted=min_converted, min_lost=min_lost)
    try:
        with db.transaction(database.sessions) as session:
            job_id = schedule_training(session, config=configs.get_config(session, tenant_id=None, config_id=config)).id
    except errors.LeadMLError as exc:
        fail(exc)
    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("train", total=4)
        work = training_work(database.engine, database.sessions, config, options)
        if engine == "dask":
            from leadml.jobs import dask_engine

            def work(context, _url=database.engine):  # noqa: F811 - the same job, run on a Dask worker
                return dask_engine.train(_url, config_id=config, options=options, scheduler=scheduler)
        job = runner.run(database.sessions, job_id, work,
                         on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    with db.transaction(database.sessions) as session:
        record = job_store.to_dict(job_store.get_job(session, tenant_id=None, job_id=job_id))
    if record["status"] != "succeeded":
        error = record["error"] or record["status"]
        if record["status"] == "failed" and not error.startswith(EXPECTED):
            console.print(f"[red]training failed[/red] (a bug; the traceback is above): {error}", highlight=False)
            raise typer.Exit(code=1)
        fail(f"training {record['status']}: {error.split(': ', 1)[-1]}")
    result = record["result"]
    if as_json:
        out.print_json(json.dumps(result))
        return
    conv = result["conversion"]
    table = Table(title=f"conversion model v{conv['version']} ({'promoted' if conv['promoted'] else 'kept as candidate'})")
    table.add_column("hold-out metric")
    table.add_column("value", justify="right")
    for key, value in conv["metrics"].items():
        table.add_row(key, "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
    out.print(table)
    ttc = result.get("timeToClose", {})
    if "metrics" in ttc:
        out.print(f"time to close v{ttc['version']} ({'promoted' if ttc['promoted'] else 'candidate'}): "
                  + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in ttc["metrics"].items()))
        out.print(ttc["reason"])
    else:
        out.print(f"time to close: {ttc.get('skipped', 'not trained')}")
