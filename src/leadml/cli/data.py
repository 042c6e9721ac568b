"""Importing CRM exports."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadml import errors
from leadml.cli import app
from leadml.cli.common import console, fail, open_database
from leadml.ingest import files, importer


class Kind(str, Enum):
    leads = "leads"
    activities = "activities"
    outcomes = "outcomes"


OUTCOME_LIKE = {"converted", "isconverted", "won", "iswon", "outcome", "result", "status", "leadstatus", "closedwon"}
HINTS = {
    "before the lead was created": "the leads were created when they were imported, after these outcomes; "
    "import the export with its outcomes instead: leadml import leads FILE --outcome-column COLUMN "
    "[--created-column COLUMN] [--closed-column COLUMN]",
    "neither converted nor lost": "pass --positive VALUE to say which value of the outcome column means converted",
    "no such lead": "import the leads first, or check the lead identity columns (--map leadExternalId=COLUMN)",
}


@app.command("import")
def import_(
    kind: Kind,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    config: Annotated[int, typer.Option("--config", help="Scoring config id")],
    map_: Annotated[list[str] | None, typer.Option("--map", help="FIELD=COLUMN, e.g. externalId='Prospect ID'")] = None,
    outcome_column: Annotated[str | None, typer.Option(
        help="Leads: the column holding each lead's outcome (converted/lost); it is never a feature")] = None,
    positive: Annotated[str | None, typer.Option(
        help="Value of the outcome column that means converted (others mean lost, 'open' is open)")] = None,
    created_column: Annotated[str | None, typer.Option(help="Leads: the column holding the creation date")] = None,
    closed_column: Annotated[str | None, typer.Option(help="Leads: the column holding the date the outcome came")] = None,
    na_values: Annotated[list[str] | None, typer.Option(
        "--na-values", help="Text meaning 'not filled in', e.g. Select (repeatable)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Leads: a column to leave out, not stored (repeatable)")] = None,
    rejected: Annotated[Path | None, typer.Option(help="Where refused rows go (default FILE.rejected.csv)")] = None,
) -> None:
    """Import leads, activities or outcomes from CSV or Parquet.

    A CRM export with its outcomes: `leadml import leads FILE --outcome-column Converted`; its leads are
    snapshots (see docs/model.md) and `leadml train` learns from them.
    """
    if kind is not Kind.leads and (outcome_column or positive or created_column or closed_column or exclude):
        fail(errors.InvalidInput("--outcome-column, --positive, --created-column, --closed-column and --exclude "
                                 "apply to `leadml import leads`"))
    if outcome_column is None and (positive or closed_column):
        fail(errors.InvalidInput("--positive and --closed-column need --outcome-column COLUMN"))
    database = open_database()
    try:
        mapping = files.parse_mapping(map_)
        if created_column and outcome_column is None:
            mapping = {**mapping, "createdAt": created_column}
        outcome = files.OutcomeColumns(outcome_column, positive, created_column, closed_column) if outcome_column else None
        plan = files.plan_columns(kind.value, files.header(file), mapping, outcome=outcome, exclude=exclude or ())
        total = sum(1 for _ in open(file, "rb")) - 1 if file.suffix.lower() != ".parquet" else None
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task(f"importing {kind.value}", total=total)
            report = importer.import_file(database.sessions, kind=kind.value, path=file, config_id=config,
                                          mapping=mapping, outcome=outcome, na_values=na_values or (),
                                          exclude=exclude or (),
                                          progress=lambda n: bar.advance(task, n))
    except errors.LeadMLError as exc:
        fail(exc)
    summary = f"{report.rows} rows: {report.stored} stored"
    if kind is Kind.leads:
        summary += f" ({report.created} created, {report.updated} updated)"
    if report.duplicates:
        summary += f", {report.duplicates} duplicates skipped"
    summary += f", {len(report.rejected)} rejected"
    console.print(summary, highlight=False)
    if kind is Kind.leads:
        fields = ", ".join(f"{field} <- {column!r}" for field, column in plan.fields.items())
        console.print(f"lead fields: {fields or 'none'}; {len(plan.attributes)} other columns are attributes "
                      f"(model features)" + (f"; outcome: {', '.join(map(repr, plan.outcome))} (never a feature)"
                                            if plan.outcome else ""), highlight=False, soft_wrap=True)
    if outcome is not None:
        counts = report.outcomes
        console.print(f"outcomes: {counts['converted']} converted, {counts['lost']} lost, {counts['open']} open",
                      highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow]: column {warning['column']!r} nearly gives the outcome away "
                      f"({warning['reason']}). If it is filled in after contact, a model learns the answer from it; "
                      f"compare `leadml evaluate FILE --target {outcome_column!r} --exclude {warning['column']!r}` and "
                      f"re-import with --exclude {warning['column']!r} to leave it out.", highlight=False, soft_wrap=True)
    if kind is Kind.leads and outcome is None:
        for column in files.header(file):
            if files._norm(column).replace(".", "") in OUTCOME_LIKE and column not in (exclude or []):
                console.print(f"[yellow]warning[/yellow]: column {column!r} looks like the outcome; it was stored as an "
                              f"attribute, which makes it a feature. If it is the outcome, import again with "
                              f"--outcome-column {column!r}.", highlight=False, soft_wrap=True)
    if report.rejected:
        target = rejected or file.with_name(file.name + ".rejected.csv")
        importer.write_rejected(report, target)
        for reason, count in report.reasons()[:3]:
            hint = next((h for key, h in HINTS.items() if key in reason), None)
            console.print(f"  {count} rejected: {reason}" + (f"\n    fix: {hint}" if hint else ""), highlight=False,
                          soft_wrap=True)
        console.print(f"rejected rows and their reasons: {target}", highlight=False)
        raise typer.Exit(code=2 if report.stored == 0 else 0)
