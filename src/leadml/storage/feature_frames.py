"""Leads and activities as polars frames for the vectorized feature path, read fast and in chunks.

Timestamps are integer epoch milliseconds in the database and are read as integers. Three
readers, chosen by database and by what the caller hands in:
- SQLite file through an engine: ADBC (rows go straight to Arrow without Python objects);
- PostgreSQL: `COPY (query) TO STDOUT` as CSV, parsed by polars;
- anything else, or a caller's session/connection on SQLite: the DBAPI cursor (sees the
  caller's uncommitted rows, slower).
`compute_features_for_config` walks a config's leads in id ranges of `chunk_leads`, reading the
next range in background threads while the current one is computed, so memory stays bounded
by about two chunks.
"""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from leadml.features.attributes import NUMERIC, AttributeKind, AttributeKindCounter, employee_count_attributes
from leadml.features.frames import attribute_series
from leadml.features.activity_rules import INBOUND, OUTBOUND
from leadml.features.inputs import KNOWN_ACTIVITY_TYPES, LEAD_SCHEMA
from leadml.features.table import extract_feature_table

# --- readers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    nullable: bool = True
    sql: str | None = None  # an expression to select instead of the column itself

    @property
    def expression(self) -> str:
        # Booleans travel as integers: SQLite has no boolean and PostgreSQL's CSV writes t/f.
        return f"CAST({self.name} AS INTEGER)" if self.dtype == pl.Boolean else (self.sql or self.name)


def _select_list(columns: Sequence[Column]) -> str:
    return ", ".join(f"{c.expression} AS {c.name}" for c in columns)


def _read_schema(columns: Sequence[Column]) -> dict[str, pl.DataType]:
    return {c.name: pl.Int64() if c.dtype == pl.Boolean else c.dtype for c in columns}


def _finish(frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    return frame.with_columns(pl.col(c.name).cast(pl.Boolean) for c in columns if c.dtype == pl.Boolean)


def empty_frame(columns: Sequence[Column]) -> pl.DataFrame:
    return pl.DataFrame(schema={c.name: c.dtype for c in columns})


class _Reader:
    dialect = "generic"

    def unindexed(self, column: str) -> str:
        """The column in a WHERE clause that SQLite must not use an index for (unary + disables it)."""
        return f"+{column}" if self.dialect == "sqlite" else column

    def order_by(self, columns: str) -> str:
        # On SQLite the index range scan already yields this order; elsewhere polars sorts if needed.
        return f" ORDER BY {columns}" if self.dialect == "sqlite" else ""

    def frame(self, columns: Sequence[Column], table: str, where: str, params: Sequence[Any]) -> pl.DataFrame:
        raise NotImplementedError


class _DbapiReader(_Reader):
    def __init__(self, dbapi_connection, dialect: str) -> None:
        self.connection, self.dialect = dbapi_connection, dialect

    def frame(self, columns, table, where, params):
        sql = f"SELECT {_select_list(columns)} FROM {table} WHERE {where}"
        if self.dialect != "sqlite":
            sql = sql.replace("?", "%s")
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        frame = pl.DataFrame(rows, schema=_read_schema(columns), orient="row") if rows else empty_frame(columns)
        return _finish(frame, columns)


class _AdbcSqliteReader(_Reader):
    """SQLite through ADBC. It infers each column's type from the first values, so nullable
    columns travel with a sentinel in place of NULL and are restored afterwards."""

    dialect = "sqlite"
    _TEXT_NULL, _INT_NULL, _REAL_NULL = "\x01", -9_223_372_036_854_775_807, -1.7976931348623157e308

    def __init__(self, path: str) -> None:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        self.connection = adbc_sqlite.connect(path)
        with self.connection.cursor() as cursor:  # wait for writers instead of failing, as the engine does
            cursor.execute("PRAGMA busy_timeout = 30000")

    def close(self) -> None:
        self.connection.close()

    def _expression(self, column: Column) -> str:
        name = column.expression
        if column.nullable:
            name = f"ifnull({name}, {self._sql_sentinel(column)})"
        return f"{name} AS {column.name}"

    def _sentinel(self, column: Column):
        if column.dtype == pl.String:
            return self._TEXT_NULL
        return self._REAL_NULL if column.dtype == pl.Float64 else self._INT_NULL

    def _sql_sentinel(self, column: Column) -> str:
        return "char(1)" if column.dtype == pl.String else repr(self._sentinel(column))

    def frame(self, columns, table, where, params):
        sql = f"SELECT {', '.join(self._expression(c) for c in columns)} FROM {table} WHERE {where}"
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            table_ = cursor.fetch_arrow_table()
        if table_.num_rows == 0:
            return empty_frame(columns)
        frame = pl.from_arrow(table_)
        restore = [
            pl.when(pl.col(c.name) != self._sentinel(c)).then(pl.col(c.name)).alias(c.name) for c in columns if c.nullable
        ]
        return _finish(frame.with_columns(restore).cast(_read_schema(columns)), columns)


class _PostgresCopyReader(_Reader):
    """PostgreSQL through COPY ... TO STDOUT as CSV: one round trip, parsed by polars."""

    dialect = "postgresql"

    def __init__(self, dbapi_connection) -> None:
        self.connection = dbapi_connection

    def frame(self, columns, table, where, params):
        sql = f"COPY (SELECT {_select_list(columns)} FROM {table} WHERE {where.replace('?', '%s')}) TO STDOUT (FORMAT CSV)"
        buffer = io.BytesIO()
        with self.connection.cursor() as cursor, cursor.copy(sql, tuple(params)) as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return empty_frame(columns)
        buffer.seek(0)
        frame = pl.read_csv(buffer, has_header=False, schema=_read_schema(columns), quote_char='"')
        return _finish(frame, columns)


def _connection_reader(connection: Connection) -> _Reader:
    dialect = connection.dialect.name
    dbapi_connection = connection.connection.dbapi_connection
    if dialect == "postgresql" and hasattr(dbapi_connection.cursor(), "copy"):
        return _PostgresCopyReader(dbapi_connection)
    return _DbapiReader(dbapi_connection, dialect)


def _sqlite_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite" or importlib.util.find_spec("adbc_driver_sqlite") is None:
        return None
    database = engine.url.database
    return database if database and database != ":memory:" and not database.startswith("file:") else None


@contextmanager
def open_reader(source: Engine | Connection | Session) -> Iterator[_Reader]:
    """A reader on `source`; a session or connection is read inside its own transaction."""
    if isinstance(source, Session):
        yield _connection_reader(source.connection())
    elif isinstance(source, Connection):
        yield _connection_reader(source)
    elif (path := _sqlite_file(source)) is not None:
        reader = _AdbcSqliteReader(path)
        try:
            yield reader
        finally:
            reader.close()
    else:
        with source.connect() as connection:
            yield _connection_reader(connection)


_TIMESTAMP_COLUMNS = ("created_at", "updated_at", "outcome_at")
_LEAD_COLUMN_TYPES: dict[str, pl.DataType] = {
    "id": pl.Int64(), "email": pl.String(), "company": pl.String(), "phone": pl.String(), "title": pl.String(),
    "created_at": pl.Int64(), "updated_at": pl.Int64(), "sequence_name": pl.String(), "sequence_step": pl.Int64(),
    "sequence_total": pl.Int64(), "sequence_active": pl.Boolean(), "external_id": pl.String(),
    "name": pl.String(), "pipeline_stage": pl.String(), "pipeline_value": pl.Float64(), "is_active": pl.Boolean(),
    "outcome_status": pl.String(), "outcome_at": pl.Int64(), "outcome_value": pl.Float64(),
}
_ACTIVITY_COLUMNS = (
    Column("lead_id", pl.Int64(), nullable=False),
    Column("type", pl.String(), nullable=False),
    Column("occurred_at", pl.Int64(), nullable=False),
    Column("direction", pl.String(), nullable=False),
)
# The bulk path reads each activity as lead_id plus one integer packing its time, type and
# direction (occurred_at * 32 + type code * 4 + direction code): half the values to convert, no
# strings. Ingestion stores canonical lower-case names; other spellings are normalised in SQL.
ACTIVITY_TYPE_ENUM = pl.Enum([*KNOWN_ACTIVITY_TYPES, "other"])
DIRECTION_ENUM = pl.Enum([INBOUND, OUTBOUND])


def _code_sql(column: str, names: Sequence[str], default: int) -> str:
    cases = " ".join(f"WHEN '{name}' THEN {code}" for code, name in enumerate(names))
    return f"CASE {column} {cases} ELSE (CASE lower(trim({column})) {cases} ELSE {default} END) END"


_PACKED_ACTIVITY_COLUMNS = (
    Column("lead_id", pl.Int64(), nullable=False),
    Column("packed", pl.Int64(), nullable=False, sql=(
        f"occurred_at * 32 + ({_code_sql('type', KNOWN_ACTIVITY_TYPES, len(KNOWN_ACTIVITY_TYPES))}) * 4"
        f" + ({_code_sql('direction', (INBOUND, OUTBOUND), 2)})"
    )),
)


def _unpack_activities(packed: pl.DataFrame) -> pl.DataFrame:
    types = pl.Series([*KNOWN_ACTIVITY_TYPES, "other"], dtype=ACTIVITY_TYPE_ENUM)
    directions = pl.Series([INBOUND, OUTBOUND, None], dtype=DIRECTION_ENUM)
    code = pl.col("packed").mod(32)
    return packed.select(
        "lead_id",
        pl.lit(types).gather(code.floordiv(4)).alias("type"),
        pl.col("packed").floordiv(32).alias("occurred_at"),
        pl.lit(directions).gather(code.mod(4)).alias("direction"),
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
    frame = raw.drop("attributes").rename({"id": "lead_id"}).with_columns(
        pl.col(c).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC") for c in _TIMESTAMP_COLUMNS if c in raw.columns
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
                reader.frame(columns, "leads", f"config_id = ? AND id IN ({', '.join('?' * len(batch))})",
                             (config_id, *batch))
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
            reader.frame(_ACTIVITY_COLUMNS, "activities",
                         f"{reader.unindexed('config_id')} = ? AND lead_id IN ({', '.join('?' * len(batch))})",
                         (config_id, *batch))
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
    return [(f, l, l - f + 1 == n) for f, l, n in zip(firsts, lasts, sizes, strict=True)]


def _load_range_leads(source, config_id, first, last, kinds, attributes) -> pl.DataFrame:
    with open_reader(source) as reader:
        raw = reader.frame(_lead_columns(()), "leads", f"id BETWEEN ? AND ? AND {reader.unindexed('config_id')} = ?"
                           " ORDER BY id", (first, last, config_id))
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
        packed = reader.frame(_PACKED_ACTIVITY_COLUMNS, "activities", tail + reader.order_by("lead_id, occurred_at"), params)
    return _unpack_activities(packed)


def iter_activity_frames(
    source: Engine | Connection | Session, *, config_id: int, chunk_leads: int = 200_000
) -> Iterator[tuple[tuple[int, int], pl.DataFrame]]:
    """((first id, last id), activities of the config's leads in that id range) per chunk of leads."""
    for first, last, contiguous in _lead_chunks(source, config_id, chunk_leads):
        yield (first, last), _load_range_activities(source, config_id, first, last, contiguous)


def scan_attribute_kinds(source: Engine | Connection | Session, *, config_id: int, batch: int = 200_000) -> dict[str, AttributeKind]:
    """Attribute kinds across all of a config's leads, streaming the attributes in id ranges."""
    counter = AttributeKindCounter()
    column = [Column("attributes", pl.String(), nullable=True)]
    for first, last in lead_id_ranges(source, config_id=config_id, chunk_leads=batch):
        with open_reader(source) as reader:
            texts = reader.frame(column, "leads", f"id BETWEEN ? AND ? AND {reader.unindexed('config_id')} = ?",
                                 (first, last, config_id)).get_column("attributes")
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
    ranges = _lead_chunks(engine, config_id, chunk_leads)

    def submit(pool: ThreadPoolExecutor, first: int, last: int, contiguous: bool):
        return (
            pool.submit(_load_range_leads, engine, config_id, first, last, kinds, names),
            pool.submit(_load_range_activities, engine, config_id, first, last, contiguous),
        )

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="feature-read") as pool:
        pending = submit(pool, *ranges[0]) if ranges else None
        for index in range(len(ranges)):
            leads_future, activities_future = pending
            leads, activities = leads_future.result(), activities_future.result()
            pending = submit(pool, *ranges[index + 1]) if index + 1 < len(ranges) else None
            yield extract_feature_table(
                leads, activities, as_of=as_of, timezone=timezone, custom_attributes=names, attribute_kinds=kinds
            )
            del leads, activities
