"""Reading CSV / Parquet exports into rows of the import format.

Columns are matched to fields by name (case, spaces and underscores ignored) or by an explicit
mapping FIELD=COLUMN; for leads, every other column becomes a typed custom attribute (numbers stay
numbers, empty cells are absent).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
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


def read_table(path: Path, *, text_columns: set[str] | None = None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(path, sep=sep, dtype={c: str for c in text_columns or ()}, keep_default_na=True)
    raise errors.InvalidInput(f"unsupported file type {suffix!r}: use .csv or .parquet")


def header(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    return list(pd.read_csv(path, sep=sep, nrows=0).columns)


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


def iter_rows(path: Path, kind: Kind, mapping: Mapping[str, str]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Yield (row number, raw cells, request-shaped row) for each row of the file."""
    columns = header(path)
    resolved = resolve_columns(kind, columns, mapping)
    frame = read_table(path, text_columns={resolved[f] for f in resolved if f in TEXT_FIELDS})
    attribute_columns = [c for c in columns if c not in set(resolved.values())] if kind == "leads" else []
    if kind != "leads":
        extra = [c for c in columns if c not in set(resolved.values())]
        if extra:
            raise errors.InvalidInput(f"unknown column(s) for {kind}: {extra}; map them with --map FIELD=COLUMN",
                                      details={"fields": list(FIELDS[kind])})
    records = frame.to_dict(orient="records")
    for number, record in enumerate(records, start=2):  # row 1 is the header
        cells = {k: plain(v) for k, v in record.items()}
        yield number, cells, _shape(kind, cells, resolved, attribute_columns)


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
