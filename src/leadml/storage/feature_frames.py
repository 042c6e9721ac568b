"""Leads and activities as polars frames for the vectorized feature path, read fast and in chunks.

Timestamps are integer epoch milliseconds in the database and are read as integers; see
feature_readers.py for how each database is read. `compute_features_for_config` walks a
config's leads in id ranges of `chunk_leads`, reading the next range in background threads
while the current one is computed, so memory stays bounded by about two chunks (plus, on
SQLite, temporary Arrow files of the activities split by chunk: see activity_partitions.py).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from leadml.features.attributes import NUMERIC, AttributeKind, AttributeKindCounter, employee_count_attributes
from leadml.features.frames import attribute_series
from leadml.features.inputs import LEAD_SCHEMA
from leadml.features.table import extract_feature_table
from leadml.storage.activity_partitions import (
    ACTIVITY_TYPE_ENUM,
    DIRECTION_ENUM,
    PACKED_ACTIVITY_COLUMNS,
    ActivityPartitions,
    unpack_activities,
)
from leadml.storage.feature_readers import Column, empty_frame, open_reader, sqlite_file

__all__ = [
    "ACTIVITY_TYPE_ENUM",
    "DIRECTION_ENUM",
    "compute_features_for_config",
    "iter_activity_frames",
    "lead_id_ranges",
    "load_activity_frame",
    "load_lead_frame",
    "scan_attribute_kinds",
]

# Scan the whole activities table (rather than index lookups per chunk) when the config holds at
# least this share of all leads.
SCAN_SHARE = 0.25

_TIMESTAMP_COLUMNS = ("created_at", "updated_at", "outcome_at")
_LEAD_COLUMN_TYPES: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "email": pl.String(),
    "company": pl.String(),
    "phone": pl.String(),
    "title": pl.String(),
    "created_at": pl.Int64(),
    "updated_at": pl.Int64(),
    "sequence_name": pl.String(),
    "sequence_step": pl.Int64(),
    "sequence_total": pl.Int64(),
    "sequence_active": pl.Boolean(),
    "external_id": pl.String(),
    "name": pl.String(),
    "pipeline_stage": pl.String(),
    "pipeline_value": pl.Float64(),
    "is_active": pl.Boolean(),
    "outcome_status": pl.String(),
    "outcome_at": pl.Int64(),
    "outcome_value": pl.Float64(),
    "snapshot": pl.String(),
}
_ACTIVITY_COLUMNS = (
    Column("lead_id", pl.Int64(), nullable=False),
    Column("type", pl.String(), nullable=False),
    Column("occurred_at", pl.Int64(), nullable=False),
    Column("direction", pl.String(), nullable=False),
)
_IN_BATCH = 500  # ids per IN (...) list: SQLite caps bound parameters per statement


def _lead_columns(extra_columns: Sequence[str]) -> list[Column]:
    names = ["id", *(c for c in LEAD_SCHEMA if c != "lead_id"), *extra_columns]
    unknown = [n for n in names if n not in _LEAD_COLUMN_TYPES]
    if unknown:
        raise ValueError(f"unknown lead columns: {unknown}")
    columns = [Column(n, _LEAD_COLUMN_TYPES[n], nullable=n not in ("id", "created_at")) for n in names]
    return [*columns, Column("attributes", pl.String(), nullable=True)]


def _parse_attributes(texts: pl.Series) -> tuple[list[dict], pl.Series]:
    """Distinct attribute JSON texts parsed once each, and each lead's index into them."""
    texts = texts.fill_null("{}")
    distinct = texts.unique(maintain_order=True)
    index = texts.to_frame("text").join(
        distinct.to_frame("text").with_row_index("row"), on="text", how="left", maintain_order="left"
    )
    parsed = [json.loads(text) for text in distinct.to_list()]
    return [row if isinstance(row, dict) else {} for row in parsed], index.get_column("row")


def _observe_kinds(counter: AttributeKindCounter, rows: list[dict]) -> None:
    for name in sorted({key for row in rows for key in row}):
        counter.observe_column(name, [row.get(name) for row in rows])


def _shape_leads(
    raw: pl.DataFrame,
    kinds: Mapping[str, AttributeKind] | None,
    attributes: Sequence[str] | None,
) -> pl.DataFrame:
    """Raw lead rows -> LEAD_SCHEMA (+ extras) with typed ATTRIBUTE_PREFIX columns."""
    rows, index = _parse_attributes(raw.get_column("attributes"))
    if kinds is None:
        counter = AttributeKindCounter()
        _observe_kinds(counter, rows)
        kinds = counter.kinds()
    wanted = dict(kinds)
    if attributes is not None:
        # Requested attributes no lead has are all-null (numeric, as for any attribute without values).
        keep = set(attributes) | set(employee_count_attributes(kinds))
        wanted = {name: kinds.get(name, NUMERIC) for name in sorted(keep)}
    frame = (
        raw.drop("attributes")
        .rename({"id": "lead_id"})
        .with_columns(
            pl.col(c).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
            for c in _TIMESTAMP_COLUMNS
            if c in raw.columns
        )
    )
    return frame.with_columns(series.gather(index) for series in attribute_series(rows, wanted).values())


def load_lead_frame(
    source: Engine | Connection | Session,
    *,
    config_id: int,
    lead_ids: Sequence[int] | None = None,
    attribute_kinds: Mapping[str, AttributeKind] | None = None,
    attributes: Sequence[str] | None = None,
    extra_columns: Sequence[str] = (),
) -> pl.DataFrame:
    """A config's leads (or those of `lead_ids`) as LEAD_SCHEMA + `attr.<name>` columns, ordered by id.

    Attribute kinds default to those inferred on the loaded leads; `attributes` limits which are
    materialised (employee-count attributes are kept for companySizeEstimate). `extra_columns`
    adds other lead columns such as outcome_status / outcome_at (timestamps become datetimes).
    """
    columns = _lead_columns(extra_columns)
    with open_reader(source) as reader:
        if lead_ids is None:
            raw = reader.frame(columns, "leads", "config_id = ? ORDER BY id", (config_id,))
        else:
            ids = sorted(set(int(i) for i in lead_ids))
            parts = [
                reader.frame(
                    columns, "leads", f"config_id = ? AND id IN ({', '.join('?' * len(batch))})", (config_id, *batch)
                )
                for batch in (ids[i : i + _IN_BATCH] for i in range(0, len(ids), _IN_BATCH))
            ]
            raw = pl.concat(parts) if parts else empty_frame(columns)
    return _shape_leads(raw.sort("id"), attribute_kinds, attributes)


def load_activity_frame(
    source: Engine | Connection | Session, *, config_id: int, lead_ids: Sequence[int] | None = None
) -> pl.DataFrame:
    """Activities of a config (or of `lead_ids`): lead_id, type, occurred_at (epoch ms Int64), direction."""
    with open_reader(source) as reader:
        if lead_ids is None:
            return reader.frame(_ACTIVITY_COLUMNS, "activities", "config_id = ?", (config_id,))
        ids = sorted(set(int(i) for i in lead_ids))
        parts = [
            reader.frame(
                _ACTIVITY_COLUMNS,
                "activities",
                f"{reader.unindexed('config_id')} = ? AND lead_id IN ({', '.join('?' * len(batch))})",
                (config_id, *batch),
            )
            for batch in (ids[i : i + _IN_BATCH] for i in range(0, len(ids), _IN_BATCH))
        ]
    return pl.concat(parts) if parts else empty_frame(_ACTIVITY_COLUMNS)


def lead_id_ranges(source: Engine | Connection | Session, *, config_id: int, chunk_leads: int) -> list[tuple[int, int]]:
    """Inclusive (first id, last id) ranges holding at most `chunk_leads` of the config's leads each."""
    return [(first, last) for first, last, _ in _lead_chunks(source, config_id, chunk_leads)]


def _lead_chunks(source, config_id: int, chunk_leads: int) -> list[tuple[int, int, bool]]:
    """(first id, last id, whether every id in between is one of the config's leads) per chunk."""
    if chunk_leads < 1:
        raise ValueError("chunk_leads must be at least 1")
    id_column = [Column("id", pl.Int64(), nullable=False)]
    with open_reader(source) as reader:
        ids = reader.frame(id_column, "leads", "config_id = ? ORDER BY id", (config_id,)).get_column("id")
    firsts = ids.gather_every(chunk_leads).to_list()
    lasts = ids.gather_every(chunk_leads, offset=chunk_leads - 1).to_list()
    if len(lasts) < len(firsts):
        lasts.append(ids[-1])
    sizes = [min(chunk_leads, ids.len() - i * chunk_leads) for i in range(len(firsts))]
    return [(first, last, last - first + 1 == n) for first, last, n in zip(firsts, lasts, sizes, strict=True)]


def _load_range_leads(source, config_id, first, last, kinds, attributes) -> pl.DataFrame:
    with open_reader(source) as reader:
        raw = reader.frame(
            _lead_columns(()),
            "leads",
            f"id BETWEEN ? AND ? AND {reader.unindexed('config_id')} = ? ORDER BY id",
            (first, last, config_id),
        )
    return _shape_leads(raw, kinds, attributes)


def _load_range_activities(source, config_id: int, first: int, last: int, contiguous: bool = False) -> pl.DataFrame:
    """Activities of the config's leads with ids in [first, last], type and direction as enums.

    When every id in the range is one of the config's leads, the config filter is skipped: an
    activity belongs to its lead's config, and the filter costs a column read per row.
    """
    with open_reader(source) as reader:
        # Range scan on the (lead_id, occurred_at) index; the config filter must not pick another index.
        tail, params = "lead_id BETWEEN ? AND ?", (first, last)
        if not contiguous:
            tail, params = f"{tail} AND {reader.unindexed('config_id')} = ?", (first, last, config_id)
        packed = reader.frame(
            PACKED_ACTIVITY_COLUMNS, "activities", tail + reader.order_by("lead_id, occurred_at"), params
        )
    return unpack_activities(packed)


@contextmanager
def _chunk_activities(
    source, config_id: int, chunks: list[tuple[int, int, bool]]
) -> Iterator[Callable[[int], pl.DataFrame]]:
    """A loader: chunk index -> that chunk's activities (enum-coded, see activity_partitions).

    On a SQLite file where the config holds a good share of all leads, the whole activities
    table is first split by chunk in one sequential pass (fast whatever the storage order);
    otherwise each chunk is read through the (lead_id, occurred_at) index.
    """
    path = sqlite_file(source) if isinstance(source, Engine) else None
    if path is not None and chunks and _config_share(source, config_id) >= SCAN_SHARE:
        with tempfile.TemporaryDirectory(prefix="leadml-activities-") as directory:
            partitions = ActivityPartitions(
                path, config_id=config_id, chunk_firsts=[c[0] for c in chunks], directory=Path(directory)
            )
            yield partitions.load
    else:
        yield lambda index: _load_range_activities(source, config_id, *chunks[index])


def _config_share(source, config_id: int) -> float:
    count = [Column("n", pl.Int64(), nullable=False, sql="count(*)")]
    with open_reader(source) as reader:
        mine = reader.frame(count, "leads", "config_id = ?", (config_id,)).item()
        everyone = reader.frame(count, "leads", "1 = 1", ()).item()
    return mine / everyone if everyone else 0.0


def iter_activity_frames(
    source: Engine | Connection | Session, *, config_id: int, chunk_leads: int = 200_000
) -> Iterator[tuple[tuple[int, int], pl.DataFrame]]:
    """((first id, last id), activities of the config's leads in that id range) per chunk of leads.

    Frames hold lead_id, type (ACTIVITY_TYPE_ENUM: unknown types are "other"), occurred_at
    (epoch ms) and direction (DIRECTION_ENUM, null when not given), in storage order.
    """
    chunks = _lead_chunks(source, config_id, chunk_leads)
    with _chunk_activities(source, config_id, chunks) as load:
        for index, (first, last, _) in enumerate(chunks):
            yield (first, last), load(index)


def scan_attribute_kinds(
    source: Engine | Connection | Session, *, config_id: int, batch: int = 200_000
) -> dict[str, AttributeKind]:
    """Attribute kinds across all of a config's leads, streaming the attributes in id ranges."""
    counter = AttributeKindCounter()
    column = [Column("attributes", pl.String(), nullable=True)]
    for first, last in lead_id_ranges(source, config_id=config_id, chunk_leads=batch):
        with open_reader(source) as reader:
            texts = reader.frame(
                column, "leads", f"id BETWEEN ? AND ? AND {reader.unindexed('config_id')} = ?", (first, last, config_id)
            ).get_column("attributes")
        _observe_kinds(counter, _parse_attributes(texts)[0])
    return counter.kinds()


def compute_features_for_config(
    engine: Engine,
    *,
    config_id: int,
    as_of: datetime,
    timezone: str,
    chunk_leads: int = 200_000,
    custom_attributes: Sequence[str] | None = None,
    attribute_kinds: Mapping[str, AttributeKind] | None = None,
) -> Iterator[pl.DataFrame]:
    """Feature frames (see extract_feature_table) for all of a config's leads, one per chunk of leads.

    Attribute kinds are inferred across the whole config first unless given (a trained model
    gives its own). `custom_attributes=None` means every attribute.
    """
    kinds = dict(attribute_kinds) if attribute_kinds is not None else scan_attribute_kinds(engine, config_id=config_id)
    names = list(custom_attributes) if custom_attributes is not None else list(kinds)
    chunks = _lead_chunks(engine, config_id, chunk_leads)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="feature-read") as pool:
        load_leads = [
            pool.submit(_load_range_leads, engine, config_id, first, last, kinds, names)
            for first, last, _ in chunks[:1]
        ]
        with _chunk_activities(engine, config_id, chunks) as load_activities:
            load_next = [pool.submit(load_activities, 0)] if chunks else []
            for index in range(len(chunks)):
                leads, activities = load_leads.pop().result(), load_next.pop().result()
                if index + 1 < len(chunks):  # read the next chunk while this one is computed
                    first, last, _ = chunks[index + 1]
                    load_leads.append(pool.submit(_load_range_leads, engine, config_id, first, last, kinds, names))
                    load_next.append(pool.submit(load_activities, index + 1))
                yield extract_feature_table(
                    leads, activities, as_of=as_of, timezone=timezone, custom_attributes=names, attribute_kinds=kinds
                )
                del leads, activities
