"""Reading CSV / Parquet exports into rows of the import format.

Columns are matched to fields by name (case, spaces and underscores ignored) or by an explicit
mapping FIELD=COLUMN; for leads, every other column becomes a typed custom attribute (numbers stay
numbers, empty cells and `na_values` placeholders such as a form's "Select" are absent).

A leads file may carry its outcomes (`OutcomeColumns`): the outcome column (and the close-date
column) become each lead's `outcome`, never an attribute. How an outcome cell is read:
- with `positive`: the cell equal to it (as text, case ignored) is converted, "open" is open, any
  other value is lost;
- without: 1/true/yes/y/won/converted/closed won are converted, 0/false/no/n/lost/not converted/
  closed lost are lost, open is open; anything else, and an empty cell, rejects the row with the
  reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from leadml import errors

Kind = Literal["leads", "activities", "outcomes"]

FIELDS: dict[str, tuple[str, ...]] = {
    "leads": ("email", "externalId", "name", "company", "phone", "title", "pipelineStage", "pipelineValue", "tags",
              "createdAt", "isActive", "sequenceName", "sequenceStep", "sequenceTotal", "sequenceActive"),
    "activities": ("leadId", "leadEmail", "leadExternalId", "type", "occurredAt", "direction", "eventId", "source",
                   "medium", "campaign", "data"),
    "outcomes": ("leadId", "leadEmail", "leadExternalId", "status", "at", "value"),
}
# Fields read as text whatever they look like (an id of digits stays "00123", a phone stays a phone).
TEXT_FIELDS = {"email", "externalId", "name", "company", "phone", "title", "pipelineStage", "tags", "leadEmail",
               "leadExternalId", "type", "direction", "eventId", "source", "medium", "campaign", "data", "status",
               "sequenceName", "createdAt", "occurredAt", "at"}


CONVERTED_WORDS = {"1", "true", "yes", "y", "won", "converted", "closed won"}
LOST_WORDS = {"0", "false", "no", "n", "lost", "not converted", "closed lost"}
OPEN_WORDS = {"open"}


@dataclass(frozen=True)
class OutcomeColumns:
    """Which columns of a leads file hold each lead's outcome (see the module docstring)."""

    column: str
    positive: str | None = None
    created_column: str | None = None
    closed_column: str | None = None


class RowError(ValueError):
    """A row that cannot be read; the message is the reason written to the rejected file."""


def read_outcome(value: Any, spec: OutcomeColumns) -> str:
    """'converted', 'lost' or 'open' for one outcome cell, or RowError with the reason."""
    if value is None:
        raise RowError(f"no outcome: column {spec.column!r} is empty")
    text = str(value).strip().casefold()
    if text in OPEN_WORDS:
        return "open"
    if spec.positive is not None:
        return "converted" if text == spec.positive.strip().casefold() else "lost"
    if text in CONVERTED_WORDS:
        return "converted"
    if text in LOST_WORDS:
        return "lost"
    raise RowError(f"outcome {value!r} in column {spec.column!r} is neither converted nor lost "
                   "(pass --positive VALUE to say which value means converted)")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column:
            raise errors.InvalidInput(f"--map expects FIELD=COLUMN, got {pair!r}")
        mapping[field.strip()] = column
    return mapping


def resolve_columns(kind: Kind, columns: list[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """Return field -> column for the fields present in the file."""
    fields = FIELDS[kind]
    unknown = [f for f in mapping if f not in fields]
    if unknown:
        raise errors.InvalidInput(f"unknown field(s) in --map for {kind}: {unknown}", details={"fields": list(fields)})
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise errors.InvalidInput(f"column(s) not in the file: {missing}", details={"columns": columns})
    resolved = dict(mapping)
    taken = set(mapping.values())
    by_norm = {_norm(c): c for c in columns if c not in taken}
    for field in fields:
        if field not in resolved and _norm(field) in by_norm:
            resolved[field] = by_norm[_norm(field)]
    return resolved


def read_table(path: Path, *, text_columns: set[str] | None = None, na_values: Sequence[str] = ()) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            return frame.mask(frame.isin(list(na_values))) if na_values else frame
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(path, sep=sep, dtype={c: str for c in text_columns or ()}, keep_default_na=True,
                               na_values=list(na_values) or None, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise errors.InvalidInput(f"cannot read {path.name}: {exc}") from exc
    raise errors.InvalidInput(f"unsupported file type {suffix!r}: use .csv or .parquet")


def header(path: Path) -> list[str]:
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return list(pd.read_csv(path, sep=sep, nrows=0).columns)
    except pd.errors.EmptyDataError as exc:
        raise errors.InvalidInput(f"{path.name} is empty: a header row naming the columns is needed") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise errors.InvalidInput(f"cannot read {path.name}: {exc}") from exc


def plain(value: Any) -> Any:
    """A cell as a JSON-able Python value; missing cells are None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


@dataclass(frozen=True)
class ColumnPlan:
    """What each column of a file becomes."""

    fields: dict[str, str]  # field -> column
    attributes: list[str]  # leads: columns stored as custom attributes (model features)
    outcome: list[str]  # leads: the outcome (and close date) columns, never features
    excluded: list[str]


def plan_columns(kind: Kind, columns: list[str], mapping: Mapping[str, str], *,
                 outcome: OutcomeColumns | None = None, exclude: Sequence[str] = ()) -> ColumnPlan:
    mapping = dict(mapping)
    unknown = [c for c in exclude if c not in columns]
    if unknown:
        raise errors.InvalidInput(f"--exclude column(s) not in the file: {unknown}", details={"columns": columns})
    if exclude and kind != "leads":
        raise errors.InvalidInput("--exclude applies to a leads import")
    if outcome is not None:
        if kind != "leads":
            raise errors.InvalidInput("outcome columns belong to a leads import")
        mapping = _outcome_mapping(outcome, mapping, columns)
    outcome_columns = [c for c in (outcome.column, outcome.closed_column) if c] if outcome else []
    # The outcome is never a lead field either, whatever its column is called.
    resolved = {f: c for f, c in resolve_columns(kind, columns, mapping).items()
                if c not in outcome_columns and c not in exclude}
    taken = set(resolved.values()) | set(outcome_columns) | set(exclude)
    if kind != "leads":
        extra = [c for c in columns if c not in set(resolved.values())]
        if extra:
            raise errors.InvalidInput(f"unknown column(s) for {kind}: {extra}; map them with --map FIELD=COLUMN",
                                      details={"fields": list(FIELDS[kind])})
    return ColumnPlan(fields=resolved, attributes=[c for c in columns if c not in taken] if kind == "leads" else [],
                      outcome=outcome_columns, excluded=list(exclude))


def iter_rows(path: Path, kind: Kind, mapping: Mapping[str, str], *, outcome: OutcomeColumns | None = None,
              na_values: Sequence[str] = (), exclude: Sequence[str] = ()
              ) -> Iterator[tuple[int, dict[str, Any], dict[str, Any] | RowError]]:
    """Yield (row number, raw cells, request-shaped row or the RowError saying why it is unreadable)."""
    plan = plan_columns(kind, header(path), mapping, outcome=outcome, exclude=exclude)
    resolved = plan.fields
    text = {resolved[f] for f in resolved if f in TEXT_FIELDS} | ({outcome.closed_column} - {None} if outcome else set())
    frame = read_table(path, text_columns=text, na_values=na_values)
    records = frame.to_dict(orient="records")
    for number, record in enumerate(records, start=2):  # row 1 is the header
        cells = {k: plain(v) for k, v in record.items()}
        try:
            row = _shape(kind, cells, resolved, plan.attributes)
            if outcome is not None:
                row["outcome"] = _outcome(cells, outcome)
        except RowError as exc:
            yield number, cells, exc
            continue
        yield number, cells, row


def _outcome_mapping(outcome: OutcomeColumns, mapping: dict[str, str], columns: list[str]) -> dict[str, str]:
    named = [c for c in (outcome.column, outcome.created_column, outcome.closed_column) if c]
    missing = [c for c in named if c not in columns]
    if missing:
        raise errors.InvalidInput(f"column(s) not in the file: {missing}", details={"columns": columns})
    if len(set(named)) != len(named):
        raise errors.InvalidInput("--outcome-column, --created-column and --closed-column must be different columns")
    clash = [f"{f}={c}" for f, c in mapping.items() if c in (outcome.column, outcome.closed_column)]
    if clash:
        raise errors.InvalidInput(f"--map {', '.join(clash)} uses the outcome column: it is never a lead field")
    if outcome.created_column:
        if mapping.get("createdAt", outcome.created_column) != outcome.created_column:
            raise errors.InvalidInput("--created-column and --map createdAt=... name different columns")
        mapping["createdAt"] = outcome.created_column
    return mapping


def _outcome(cells: dict[str, Any], spec: OutcomeColumns) -> dict[str, Any]:
    shaped: dict[str, Any] = {"status": read_outcome(cells.get(spec.column), spec)}
    if spec.closed_column and cells.get(spec.closed_column) is not None:
        shaped["at"] = cells[spec.closed_column]
    return shaped


def _shape(kind: Kind, cells: dict[str, Any], resolved: Mapping[str, str], attribute_columns: list[str]) -> dict[str, Any]:
    row = {field: cells.get(column) for field, column in resolved.items()}
    row = {k: v for k, v in row.items() if v is not None}
    if kind == "leads":
        if "tags" in row:
            row["tags"] = [t.strip() for t in str(row["tags"]).split(";") if t.strip()]
        seq = {k: row.pop(k) for k in ("sequenceName", "sequenceStep", "sequenceTotal", "sequenceActive") if k in row}
        if "sequenceName" in seq:
            row["sequence"] = {"name": seq["sequenceName"], "step": seq.get("sequenceStep", 0),
                               "totalSteps": seq.get("sequenceTotal", 1), "active": seq.get("sequenceActive", True)}
        if isinstance(row.get("isActive"), str):
            row["isActive"] = row["isActive"].strip().lower() in ("true", "1", "yes")
        attributes = {c: cells[c] for c in attribute_columns if cells.get(c) is not None}
        if attributes:
            row["attributes"] = attributes
    elif kind == "activities" and isinstance(row.get("data"), str):
        try:
            row["data"] = json.loads(row["data"])
        except json.JSONDecodeError:
            row["data"] = {"raw": row["data"]}
    return row
