"""Importing CRM exports."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadml import errors
from leadml.cli import app
from leadml.cli.admin import fail
from leadml.cli.common import console, open_database
from leadml.ingest import files, importer


class Kind(str, Enum):
    leads = "leads"
    activities = "activities"
    outcomes = "outcomes"


@app.command("import")
def import_(
    kind: Kind,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    config: Annotated[int, typer.Option("--config", help="Scoring config id")],
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN, e.g. externalId='Prospect ID'")] = None,
    rejected: Annotated[Path | None, typer.Option(help="Where refused rows go (default FILE.rejected.csv)")] = None,
) -> None:
    """Import leads, activities or outcomes from CSV or Parquet."""
    database = open_database()
    try:
        mapping = files.parse_mapping(map_)
        total = sum(1 for _ in open(file, "rb")) - 1 if file.suffix.lower() != ".parquet" else None
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task(f"importing {kind.value}", total=total)
            report = importer.import_file(database.sessions, kind=kind.value, path=file, config_id=config,
                                          mapping=mapping, progress=lambda n: bar.advance(task, n))
    except errors.LeadMLError as exc:
        fail(exc)
    summary = f"{report.rows} rows: {report.stored} stored"
    if kind is Kind.leads:
        summary += f" ({report.created} created, {report.updated} updated)"
    if report.duplicates:
        summary += f", {report.duplicates} duplicates skipped"
    summary += f", {len(report.rejected)} rejected"
    console.print(summary)
    if report.rejected:
        target = rejected or file.with_name(file.name + ".rejected.csv")
        importer.write_rejected(report, target)
        console.print(f"rejected rows and their reasons: {target}")
        raise typer.Exit(code=2 if report.stored == 0 else 0)
