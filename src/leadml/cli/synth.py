"""`leadml synth`: a synthetic B2B funnel, written to files or loaded straight into a config."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadml import db, errors
from leadml.cli import app
from leadml.cli.admin import fail
from leadml.cli.common import console, open_database, out
from leadml.storage import bulk, configs
from leadml.synth import generate_funnel
from leadml.synth.writer import write_funnel


class FileFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@app.command("synth")
def synth(
    leads: Annotated[int, typer.Option("--leads", min=1, help="How many leads to generate (about 20 activities each)")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write leads/activities/outcomes files here")] = None,
    config: Annotated[int | None, typer.Option("--config", help="Load into this scoring config's database")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed on the same day gives the same data")] = 0,
    file_format: Annotated[FileFormat, typer.Option("--format", help="File format with --out")] = FileFormat.csv,
) -> None:
    """Generate a synthetic B2B funnel (leads, activities, outcomes) for demos and benchmarks."""
    if (out_dir is None) == (config is None):
        fail(errors.InvalidInput("give exactly one of --out DIR (files) or --config ID (database)"))
    tenant_id = None
    if config is not None:
        # Check the config before spending time on generation.
        database = open_database()
        try:
            with db.transaction(database.sessions) as session:
                tenant_id = configs.get_config(session, tenant_id=None, config_id=config).tenant_id
        except errors.LeadMLError as exc:
            fail(exc)

    with _progress_bar() as bar:
        task = bar.add_task("generating", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        funnel = generate_funnel(leads, seed=seed, progress=on_progress)
        if out_dir is not None:
            task = bar.add_task("writing", total=None)
            paths = write_funnel(funnel, out_dir, file_format.value, progress=on_progress)
            where = str(paths["leads"].parent)
        else:
            task = bar.add_task("inserting", total=None)
            try:
                bulk.insert_funnel(database.engine, funnel, tenant_id=tenant_id, config_id=config,
                                   progress=lambda stage, done, total: on_progress(f"inserting {stage}", done, total))
            except errors.LeadMLError as exc:
                bar.stop()
                fail(exc)
            where = f"config {config}"

    converted = int((funnel.outcomes["status"] == "converted").sum())
    closed = len(funnel.outcomes)
    share = f"{100 * converted / closed:.1f} %" if closed else "n/a"
    out.print(
        f"{len(funnel.leads):,} leads, {len(funnel.activities):,} activities, {closed:,} outcomes "
        f"({converted:,} converted = {share} of closed; {len(funnel.leads) - closed:,} still open) -> {where}",
        highlight=False,
    )


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)
