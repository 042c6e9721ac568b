"""File import, row by row: every row is either stored or written back with its reason."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from leadml import db, errors
from leadml.ingest import files, leakage, service
from leadml.ingest.schemas import ActivityIn, LeadIn, OutcomeRow
from leadml.storage import configs

MODELS = {"leads": LeadIn, "activities": ActivityIn, "outcomes": OutcomeRow}


@dataclass
class ImportReport:
    rows: int = 0
    stored: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # stored leads by outcome status (outcome imports)
    warnings: list[dict[str, Any]] = field(default_factory=list)  # near-perfect predictors of the outcome

    def reasons(self) -> list[tuple[str, int]]:
        """Rejection reasons, most frequent first."""
        return Counter(row["reason"] for row in self.rejected).most_common()


def import_file(
    sessions: sessionmaker[Session],
    *,
    kind: files.Kind,
    path: Path,
    config_id: int,
    mapping: Mapping[str, str] | None = None,
    outcome: files.OutcomeColumns | None = None,
    na_values: Sequence[str] = (),
    exclude: Sequence[str] = (),
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    with db.transaction(sessions) as session:
        configs.get_config(session, tenant_id=None, config_id=config_id)  # fail early on a wrong id
    model = MODELS[kind]
    report = ImportReport()
    batch: list[tuple[int, dict, Any]] = []
    labelled: dict[int, tuple[dict[str, Any], int]] = {}  # row -> (attributes, converted) for the leak check
    for number, cells, row in files.iter_rows(path, kind, mapping or {}, outcome=outcome, na_values=na_values,
                                                 exclude=exclude):
        report.rows += 1
        if isinstance(row, files.RowError):
            report.rejected.append({"row": number, "reason": str(row), **cells})
            continue
        try:
            validated = model.model_validate(row)
        except ValidationError as exc:
            report.rejected.append({"row": number, "reason": _reasons(exc), **cells})
        else:
            batch.append((number, cells, validated))
            if outcome is not None and validated.outcome is not None and validated.outcome.status != "open":
                labelled[number] = (validated.attributes, int(validated.outcome.status == "converted"))
        if len(batch) >= batch_size:
            _store(sessions, kind, config_id, batch, report)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _store(sessions, kind, config_id, batch, report)
        if progress:
            progress(len(batch))
    if labelled:
        refused = {row["row"] for row in report.rejected}
        kept = [value for number, value in labelled.items() if number not in refused]
        names = sorted({name for attributes, _ in kept for name in attributes})
        report.warnings = leakage.near_perfect_predictors(
            {name: [attributes.get(name) for attributes, _ in kept] for name in names}, [y for _, y in kept])
    return report


def _reasons(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def _store(sessions, kind, config_id, batch, report: ImportReport) -> None:
    """Store a batch; rows the service refuses are set aside and the rest is tried again."""
    while batch:
        try:
            with db.transaction(sessions) as session:
                config = configs.get_config(session, tenant_id=None, config_id=config_id)
                rows = [validated for _, _, validated in batch]
                if kind == "leads":
                    result = service.upsert_leads(session, config=config, rows=rows)
                    report.created += result.created
                    report.updated += result.updated
                    report.stored += len(rows)
                    report.outcomes.update(row.outcome.status for row in rows if row.outcome is not None)
                elif kind == "activities":
                    result = service.add_activities(session, config=config, rows=rows)
                    report.stored += result.accepted
                    report.duplicates += result.duplicates
                else:
                    report.stored += service.record_outcomes(session, config=config, rows=rows)
            return
        except errors.InvalidInput as exc:
            refused = {d["index"]: d["message"] for d in exc.details or [] if isinstance(d, dict) and "index" in d}
            if not refused:
                raise
            for index in sorted(refused):
                number, cells, _ = batch[index]
                report.rejected.append({"row": number, "reason": refused[index], **cells})
            batch = [item for i, item in enumerate(batch) if i not in refused]


def write_rejected(report: ImportReport, path: Path) -> None:
    columns: list[str] = []
    for row in report.rejected:
        columns.extend(k for k in row if k not in columns)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(sorted(report.rejected, key=lambda r: r["row"]))
