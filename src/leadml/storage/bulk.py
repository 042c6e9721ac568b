"""Bulk loading of a synthetic funnel (frames in the import format) straight into the tables.

The ORM would build millions of objects; rows go through a raw connection instead, in batches:
- SQLite file behind an Engine: ADBC ingestion of Arrow batches (C-level binding, no Python
  objects per row; about twice as fast as executemany), in a SQLite worker process: ADBC carries
  its own SQLite, which must never open the file in a process where Python's sqlite3 has it open
  (see sqlite_worker.py). The rows travel to it as Arrow IPC files in a temporary directory;
- SQLite otherwise (a Connection, a DBAPI connection, in-memory): `executemany`;
- PostgreSQL: `COPY ... FROM STDIN` with CSV rendered by polars.
Values follow the ORM's storage rules: timestamps as integer epoch ms (UTC), tags/attributes as
JSON text, created_at/updated_at set. Lead ids come from the database and are read back
(externalId -> id) to link the activities. Rows go in the frames' order; a synthetic funnel's
activities are ordered by lead and time, so the activity indexes are appended to, not updated at
random places.

Transactions: given an Engine, this uses its own connection, commits at the end and rolls back on
error. Given a SQLAlchemy Connection or a DBAPI connection, it runs inside the caller's
transaction and never commits.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine

from leadml import errors
from leadml.storage import sqlite_worker
from leadml.synth.generator import LEAD_COLUMNS, SyntheticFunnel

Progress = Callable[[str, int, int], None]  # (stage, done, total)

LEAD_TABLE_COLUMNS = [
    "tenant_id", "config_id", "email", "external_id", "name", "company", "phone", "title", "pipeline_stage",
    "pipeline_value", "tags", "attributes", "created_at", "updated_at", "is_active", "sequence_name",
    "sequence_step", "sequence_total", "sequence_active", "outcome_status", "outcome_at", "outcome_value",
]
ACTIVITY_TABLE_COLUMNS = [
    "config_id", "lead_id", "type", "occurred_at", "direction", "source", "medium", "campaign", "event_id",
]
BATCH_ROWS = 200_000
LOAD_CACHE_KIB = 262_144  # SQLite page cache while loading, so that index pages stay in memory


def insert_funnel(
    connection_or_engine: Engine | Connection | Any,
    funnel: SyntheticFunnel,
    *,
    tenant_id: int,
    config_id: int,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Insert the funnel's leads (with their outcomes) and activities into config `config_id`.

    Returns {"leads", "activities", "outcomes"} counts. Raises errors.Conflict when the config
    already holds one of these leads or event ids.
    """
    target = connection_or_engine
    if isinstance(target, Engine):
        path = target.url.database if target.dialect.name == "sqlite" else None
        if path and path != ":memory:" and not path.startswith("file:") and _adbc_available():
            return _insert_in_worker(path, funnel, tenant_id, config_id, progress)
        raw = target.raw_connection()
        writer = _PostgresCopy(raw) if target.dialect.name == "postgresql" else _SqliteExecutemany(raw)
        with _one_transaction(writer):
            return _insert(writer, funnel, tenant_id, config_id, progress)
    if isinstance(target, Connection):
        raw, dialect = target.connection.dbapi_connection, target.dialect.name
    else:
        raw, dialect = target, ("sqlite" if type(target).__module__.startswith("sqlite3") else "postgresql")
    writer = _PostgresCopy(raw) if dialect == "postgresql" else _SqliteExecutemany(raw)
    return _insert(writer, funnel, tenant_id, config_id, progress)


def _insert_in_worker(path: str, funnel: SyntheticFunnel, tenant_id: int, config_id: int,
                      progress: Progress | None) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="leadml-load-") as directory:
        leads_file, activities_file = f"{directory}/leads.arrow", f"{directory}/activities.arrow"
        _lead_rows(funnel, tenant_id=tenant_id, config_id=config_id).write_ipc(leads_file)
        funnel.activities.write_ipc(activities_file)
        counts = sqlite_worker.call(f"{__name__}:adbc_insert_files", path, leads_file, activities_file, config_id,
                                    progress=progress)
    return {**counts, "outcomes": len(funnel.outcomes)}


def adbc_insert_files(path: str, leads_file: str, activities_file: str, config_id: int,
                      progress: Progress | None = None) -> dict[str, int]:
    """Runs in a SQLite worker process: lead rows and funnel activities from Arrow IPC files, one transaction."""
    writer = _AdbcSqlite.connect(path)
    with _one_transaction(writer):
        return _insert_rows(writer, pl.read_ipc(leads_file), pl.read_ipc(activities_file), config_id, progress)


@contextmanager
def _one_transaction(writer):
    """Commit what the block wrote, or roll all of it back; the writer's connection is closed either way."""
    try:
        yield
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    finally:
        writer.raw.close()


def _insert(writer: _Writer, funnel: SyntheticFunnel, tenant_id: int, config_id: int,
            progress: Progress | None) -> dict[str, int]:
    leads = _lead_rows(funnel, tenant_id=tenant_id, config_id=config_id)
    counts = _insert_rows(writer, leads, funnel.activities, config_id, progress)
    return {**counts, "outcomes": len(funnel.outcomes)}


def _insert_rows(writer: _Writer, leads: pl.DataFrame, activities: pl.DataFrame, config_id: int,
                 progress: Progress | None) -> dict[str, int]:
    report = progress or (lambda stage, done, total: None)
    if len(leads) and writer.lead_exists(config_id, leads["external_id"][0]):
        raise errors.Conflict(
            f"config {config_id} already has lead {leads['external_id'][0]!r}: load synthetic data into a fresh config",
            details={"configId": config_id},
        )
    n_leads, n_activities = len(leads), len(activities)
    try:
        with writer.loading():
            writer.insert("leads", LEAD_TABLE_COLUMNS, _batches(leads), lambda done: report("leads", done, n_leads))
            del leads
            ids = writer.lead_ids(config_id)
            batches = (_activity_rows(batch, ids, config_id=config_id) for batch in _batches(activities))
            writer.insert("activities", ACTIVITY_TABLE_COLUMNS, batches,
                          lambda done: report("activities", done, n_activities))
    except Exception as exc:
        if _is_duplicate(exc):
            raise errors.Conflict(f"config {config_id} already holds some of these leads or event ids ({exc})",
                                  details={"configId": config_id}) from exc
        raise
    return {"leads": n_leads, "activities": n_activities}


def _is_duplicate(exc: Exception) -> bool:
    # DBAPI drivers raise IntegrityError; ADBC reports SQLite's constraint failure as an InternalError.
    return any(cls.__name__ == "IntegrityError" for cls in type(exc).__mro__) or "UNIQUE constraint failed" in str(exc)


def _epoch_ms(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("ms")


def _lead_rows(funnel: SyntheticFunnel, *, tenant_id: int, config_id: int) -> pl.DataFrame:
    """The leads table's columns (LEAD_TABLE_COLUMNS order) with the outcome fields joined in."""
    attribute_names = [c for c in funnel.leads.columns if c not in LEAD_COLUMNS]
    outcomes = funnel.outcomes.select(
        pl.col("leadExternalId").alias("externalId"),
        pl.col("status").alias("outcome_status"),
        _epoch_ms("at").alias("outcome_at"),
        pl.col("value").alias("outcome_value"),
    )
    frame = funnel.leads.join(outcomes, on="externalId", how="left", maintain_order="left")
    return frame.select(
        pl.lit(tenant_id, dtype=pl.Int64).alias("tenant_id"),
        pl.lit(config_id, dtype=pl.Int64).alias("config_id"),
        "email",
        pl.col("externalId").alias("external_id"),
        "name",
        "company",
        "phone",
        "title",
        pl.col("pipelineStage").alias("pipeline_stage"),
        pl.col("pipelineValue").cast(pl.Float64).alias("pipeline_value"),
        _tags_json().alias("tags"),
        _attributes_json(attribute_names).alias("attributes"),
        _epoch_ms("createdAt").alias("created_at"),
        pl.lit(int(time.time() * 1000), dtype=pl.Int64).alias("updated_at"),
        pl.lit(True).alias("is_active"),
        pl.col("sequenceName").alias("sequence_name"),
        pl.col("sequenceStep").alias("sequence_step"),
        pl.col("sequenceTotal").alias("sequence_total"),
        pl.col("sequenceActive").fill_null(False).alias("sequence_active"),
        pl.col("outcome_status").fill_null("open"),
        "outcome_at",
        "outcome_value",
    )


def _tags_json() -> pl.Expr:
    # ";"-joined tags -> a JSON list. Synthetic tags are plain words, so quoting each is enough.
    tags = pl.col("tags").fill_null("")
    quoted = pl.concat_str([pl.lit('["'), tags.str.replace_all(";", '","', literal=True), pl.lit('"]')])
    return pl.when(tags == "").then(pl.lit("[]")).otherwise(quoted)


def _attributes_json(names: list[str]) -> pl.Expr:
    if not names:
        return pl.lit("{}")
    encoded = pl.struct([pl.col(n) for n in names]).struct.json_encode()
    # A missing attribute is left out rather than stored as null.
    return encoded.str.replace_all(r'"[^"]+":null,?', "").str.replace(r",\}$", "}")


def _activity_rows(activities: pl.DataFrame, ids: pl.DataFrame, *, config_id: int) -> pl.DataFrame:
    frame = activities.join(ids, left_on="leadExternalId", right_on="external_id", how="left", maintain_order="left")
    if frame["lead_id"].null_count():
        raise errors.InvalidInput("some activities name a lead that is not in the funnel")
    return frame.select(
        pl.lit(config_id, dtype=pl.Int64).alias("config_id"),
        "lead_id",
        "type",
        _epoch_ms("occurredAt").alias("occurred_at"),
        "direction",
        "source",
        "medium",
        "campaign",
        pl.col("eventId").alias("event_id"),
    )


def _batches(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    for offset in range(0, len(frame), BATCH_ROWS):
        yield frame.slice(offset, BATCH_ROWS)


def _adbc_available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


class _Writer:
    """One way of writing batches; `raw` is the DBAPI connection holding the transaction."""

    placeholder = "?"

    def __init__(self, raw) -> None:
        self.raw = raw

    def query(self, sql: str, params: tuple) -> list[tuple]:
        cur = self.raw.cursor()
        try:
            cur.execute(sql.replace("?", self.placeholder), params)
            return cur.fetchall()
        finally:
            cur.close()

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def execute(self, sql: str) -> None:
        cur = self.raw.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def lead_exists(self, config_id: int, external_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM leads WHERE config_id = ? AND external_id = ?", (config_id, external_id)))

    def lead_ids(self, config_id: int) -> pl.DataFrame:
        rows = self.query("SELECT external_id, id FROM leads WHERE config_id = ? AND external_id IS NOT NULL",
                          (config_id,))
        return pl.DataFrame(rows, schema={"external_id": pl.String, "lead_id": pl.Int64}, orient="row")

    def loading(self):
        return _NoOp()

    def insert(self, table: str, columns: list[str], batches: Iterable[pl.DataFrame],
               advance: Callable[[int], None]) -> None:
        raise NotImplementedError


class _SqliteExecutemany(_Writer):
    def loading(self):
        return _SqliteCache(self)

    def insert(self, table: str, columns: list[str], batches: Iterable[pl.DataFrame],
               advance: Callable[[int], None]) -> None:
        cur = self.raw.cursor()
        try:
            done = 0
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for batch in batches:
                # Columns zipped into tuples: far cheaper than polars' row iteration.
                cur.executemany(sql, zip(*(batch[c].to_list() for c in columns), strict=True))
                done += len(batch)
                advance(done)
        finally:
            cur.close()


class _AdbcSqlite(_Writer):
    """ADBC in autocommit mode with an explicit transaction: the connection pragmas (foreign
    keys above all) can only be set outside a transaction."""

    @classmethod
    def connect(cls, path: str) -> _AdbcSqlite:
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        writer = cls(adbc_sqlite.connect(path, autocommit=True))
        # What db.make_engine sets on its own SQLite connections.
        for pragma in ("foreign_keys=ON", "busy_timeout=30000", "synchronous=FULL"):
            writer.execute(f"PRAGMA {pragma}")
        writer.execute("BEGIN IMMEDIATE")
        return writer

    def commit(self) -> None:
        self.execute("COMMIT")

    def lead_ids(self, config_id: int) -> pl.DataFrame:
        with self.raw.cursor() as cur:  # as Arrow: row-by-row fetching is slow on ADBC
            cur.execute("SELECT external_id, id AS lead_id FROM leads WHERE config_id = ? AND external_id IS NOT NULL",
                        (config_id,))
            return pl.from_arrow(cur.fetch_arrow_table()).cast({"external_id": pl.String, "lead_id": pl.Int64})

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def loading(self):
        return _SqliteCache(self)

    def insert(self, table: str, columns: list[str], batches: Iterable[pl.DataFrame],
               advance: Callable[[int], None]) -> None:
        with self.raw.cursor() as cur:
            done = 0
            for batch in batches:
                cur.adbc_ingest(table, batch.select(columns).to_arrow(), mode="append")
                done += len(batch)
                advance(done)


class _PostgresCopy(_Writer):
    placeholder = "%s"

    def insert(self, table: str, columns: list[str], batches: Iterable[pl.DataFrame],
               advance: Callable[[int], None]) -> None:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        with self.raw.cursor() as cur, cur.copy(sql) as copy:
            done = 0
            for batch in batches:
                buffer = io.BytesIO()
                # Unquoted empty fields are NULL in COPY's CSV format; polars writes nulls that way.
                batch.select(columns).write_csv(buffer, include_header=False)
                copy.write(buffer.getvalue())
                done += len(batch)
                advance(done)


class _SqliteCache:
    def __init__(self, writer: _Writer) -> None:
        self.writer = writer

    def __enter__(self):
        self.previous = self.writer.query("PRAGMA cache_size", ())[0][0]
        self.writer.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
        return self

    def __exit__(self, *exc) -> None:
        self.writer.execute(f"PRAGMA cache_size = {int(self.previous)}")


class _NoOp:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None
